// Package bench holds wsd's micro-benchmarks (micro_test.go: frame parsing, masking, event dispatch,
// room fan-out) and the same-run comparison of wsd with three other Go WebSocket servers
// (servers/gorilla, servers/gws, servers/nbio), driven by the loadtest package:
//
//	cd bench && go test -run '^$' -bench Compare -benchtime 1x -timeout 60m
//
// [Build] compiles wsd and the peers into a directory, [Measure] runs one [Scenario] against one
// [Server] (a fresh process per scenario, started with loadtest.StartServer), and [Report] turns the
// results into the markdown table of README.md: echo server CPU per message, broadcast deliveries per
// server CPU-second, broadcast p99 latency and idle bytes per connection, with the ratio of wsd to the
// best peer and the DESIGN.md verdicts.
//
// It is its own module so that the peers never become dependencies of the engine.
package bench
