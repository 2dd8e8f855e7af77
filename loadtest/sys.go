package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseOpenFiles lifts the soft open-file limit to the hard one: every
// waiting poll holds a connection.
func raiseOpenFiles() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}

func openFileLimit() uint64 {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// loopbackURL checks that u is an http URL on a loopback address and
// returns it without a trailing slash. Load is never sent elsewhere.
func loopbackURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	if p.Scheme != "http" || p.Host == "" {
		return "", fmt.Errorf("%q: want http://host:port", u)
	}
	if err := loopbackHostPort(p.Host); err != nil {
		return "", err
	}
	return strings.TrimRight(u, "/"), nil
}

func loopbackHostPort(hp string) error {
	host := hp
	if h, _, err := net.SplitHostPort(hp); err == nil {
		host = h
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		addrs, err := net.LookupIP(host)
		if err != nil || len(addrs) == 0 {
			return fmt.Errorf("%q: cannot resolve", host)
		}
		for _, a := range addrs {
			if !a.IsLoopback() {
				return fmt.Errorf("%q resolves to %v: load is only sent to loopback addresses", host, a)
			}
		}
		return nil
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: load is only sent to loopback addresses", host)
	}
	return nil
}

// rssOf sums the resident set size (bytes) of the processes and all their
// descendants, from /proc.
func rssOf(pids []int) (int64, int) {
	all := withDescendants(pids)
	var sum int64
	for _, p := range all {
		sum += procStatusKB(p, "VmRSS:") * 1024
	}
	return sum, len(all)
}

func withDescendants(pids []int) []int {
	if len(pids) == 0 {
		return nil
	}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	seen := map[int]bool{}
	var out []int
	var walk func(int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, p := range pids {
		walk(p)
	}
	sort.Ints(out)
	return out
}

func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuOf sums the CPU time (user + system, seconds) the processes and
// their descendants have used.
func cpuOf(pids []int) float64 {
	var ticks int64
	for _, p := range withDescendants(pids) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14 of stat
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return float64(ticks) / 100 // USER_HZ is 100 on Linux
}

// openFDs counts the open descriptors of the processes and descendants.
func openFDs(pids []int) int {
	n := 0
	for _, p := range withDescendants(pids) {
		e, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		n += len(e)
	}
	return n
}

// redisInfo sends INFO to a Redis over a bare connection (RESP is simple
// enough; the generator depends on no Redis client) and returns its fields.
func redisInfo(addr string) (map[string]string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO everything\r\n")); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(c, 64<<10)
	head, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(head, "$") {
		return nil, fmt.Errorf("INFO answered %q", strings.TrimSpace(head))
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return nil, fmt.Errorf("INFO length %q", head)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(body[:n]), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// commandCalls reads calls= from the cmdstat_* fields of INFO.
func commandCalls(info map[string]string) map[string]int64 {
	out := map[string]int64{}
	for k, v := range info {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.ParseInt(n, 10, 64)
			}
		}
	}
	return out
}

func infoInt(info map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(info[k], 10, 64)
	return n
}

// Machine describes where a run happened.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMB  int64  `json:"memory_mb"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	OpenFiles uint64 `json:"open_files"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OpenFiles: openFileLimit()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	m.MemoryMB = procMeminfoKB("MemTotal:") / 1024
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func procMeminfoKB(field string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
