// Package loadtest drives a real wsd process (or any WebSocket server) with client worker
// processes and measures it: idle connections (memory per connection as a least-squares slope),
// echo round trips, room broadcasts (delivery latency from timestamps in the payloads, losses
// counted per member), connection storms, and a soak: everything at once with hostile clients, every
// client's answer checked, goroutines and memory required flat.
//
// Entry points: [RunIdle], [RunEcho], [RunBroadcast], [RunStorm] and [RunSoak] take an [Env] (the
// [Target] URL, optionally its process id and metrics URL, the number of worker processes) and a
// config whose zero fields select the defaults; [BuildWSD] and [StartServer] run wsd as a separate
// process. The benchmarks in this package (go test -bench . -benchtime 1x) and cmd/wsload are thin
// wrappers around them.
//
// Worker processes are this executable re-run with WSLOAD_WORKER set: every main and TestMain that
// runs scenarios must call [MaybeWorker] first. Each worker gets its own source address and file
// descriptor budget and talks JSON lines over stdin/stdout (proto.go).
//
// Figures that need the server's process (CPU, RSS, descriptors) come from /proc on Linux and
// ps(1) elsewhere; Go heap, goroutines and allocations come from the Prometheus endpoint; kernel
// socket memory from /proc/net/sockstat and /proc/meminfo (Linux only, both ends of loopback
// connections, machine-wide). Unknown figures are NaN (null in JSON, "-" in tables).
package loadtest
