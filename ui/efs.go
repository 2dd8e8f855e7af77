// Package ui is the browser client: static HTML, CSS and JavaScript modules
// embedded into the binary, with no build step. It imports nothing of ours;
// the gateway serves Files under "/".
package ui

import "embed"

// Files holds the client under static/.
//
//go:embed static
var Files embed.FS
