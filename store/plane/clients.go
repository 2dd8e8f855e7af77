package plane

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientOptions returns the settings of the plane's two Redis clients, the
// one place they are written (cmd/webchat and the tests that stand in for
// it both take them from here), without the addresses: the caller sets
// Addrs (and IsClusterMode, DB, credentials).
//
// cmd is the command client. It never retries (MaxRetries -1): a write
// script that timed out after it was sent may have run, and the client_id
// record, not a blind retry, makes a send safe to repeat. block serves the
// blocking reads of waiting polls under POLL_WAIT=blmove: up to
// blockingPool connections with small buffers, which MaxIdleConns closes
// again when a burst of polls is gone; it opens none otherwise.
func ClientOptions(blockingPool int) (cmd, block *redis.UniversalOptions) {
	// Maintenance notifications (a managed-Redis feature) cost a handoff
	// machinery per pool that self-hosted Redis never uses.
	// And no CLIENT SETINFO on connect: Redis before 7.2 refuses it, which
	// would count two errors per new connection in
	// webchat_redis_errors_total.
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	cmd = &redis.UniversalOptions{MaxRetries: -1, PoolSize: 64,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
		MaintNotificationsConfig: noMaint, DisableIdentity: true}
	block = &redis.UniversalOptions{MaxRetries: -1, PoolSize: blockingPool, MaxIdleConns: 256,
		ReadBufferSize: 4096, WriteBufferSize: 4096,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolTimeout: 5 * time.Second,
		MaintNotificationsConfig: noMaint, DisableIdentity: true}
	return cmd, block
}

// NewCommandOffloadHook is the OffloadHook for a command client of these
// options: more workers than one pool's connections (a cluster has a pool
// per master), and a call waits for one as long as go-redis would for a
// connection.
func NewCommandOffloadHook(cmd *redis.UniversalOptions) *OffloadHook {
	return NewOffloadHook(4*cmd.PoolSize, cmd.ReadTimeout+time.Second)
}
