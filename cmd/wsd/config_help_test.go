package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// maxHelpText keeps a description on one line of wsd -h (8 columns of indent, 100 in all).
const maxHelpText = 92

// TestConfigHelp: every configuration key has a description (what it does, one line) and a group,
// every configHelp row is a key, and each group is a section of docs/configuration.md that documents
// its keys, in the same order as wsd -h.
func TestConfigHelp(t *testing.T) {
	groups := map[string]int{}
	for _, g := range helpGroups(defaults()) {
		groups[g.name] = 0
	}
	for _, l := range configLeaves() {
		h, ok := helpFor(l.key)
		if !ok {
			t.Errorf("%s: no help: add a row to configHelp (config_help.go)", l.key)
			continue
		}
		if _, ok := groups[h.group]; !ok {
			t.Errorf("%s: group %q is not one of helpGroups", l.key, h.group)
		}
		groups[h.group]++
		checkHelpText(t, l.key, h.text)
	}
	seen := map[string]bool{}
	for _, h := range configHelp {
		if seen[h.key] {
			t.Errorf("configHelp: %s twice", h.key)
		}
		seen[h.key] = true
		if !slices.ContainsFunc(configLeaves(), func(l leaf) bool { return genericKey(l.key) == h.key }) {
			t.Errorf("configHelp: %s is not a configuration key", h.key)
		}
	}
	for g, n := range groups {
		if n == 0 {
			t.Errorf("group %q has no keys", g)
		}
	}
	checkDocGroups(t)
}

func checkHelpText(t *testing.T, key, text string) {
	t.Helper()
	switch {
	case text == "":
		t.Errorf("%s: empty description", key)
	case strings.HasPrefix(text, "sets ") || strings.Contains(text, "(env "):
		t.Errorf("%s: %q: say what the key does", key, text)
	case len(text) > maxHelpText:
		t.Errorf("%s: description of %d bytes, over %d: %q", key, len(text), maxHelpText, text)
	case strings.HasSuffix(text, ".") || strings.Contains(text, "\n"):
		t.Errorf("%s: %q: one line, no final period", key, text)
	}
}

// checkDocGroups: each group is a heading of docs/configuration.md, the headings come in the order
// of helpGroups, and every key's table row is in its group's section.
func checkDocGroups(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	sections := map[string]string{}
	last := -1
	for _, g := range helpGroups(defaults()) {
		i := headingAt(doc, g.name)
		if i < 0 {
			t.Errorf("docs/configuration.md has no heading %q", g.name)
			continue
		}
		if i < last {
			t.Errorf("docs/configuration.md: section %q is out of wsd -h's order", g.name)
		}
		last = i
		body := doc[i+1:]
		if j := strings.Index(body, "\n#"); j >= 0 {
			body = body[:j]
		}
		sections[g.name] = body
	}
	for _, l := range configLeaves() {
		h, _ := helpFor(l.key)
		if body, ok := sections[h.group]; ok && !strings.Contains(body, "\n| `"+h.key+"` |") {
			t.Errorf("docs/configuration.md: no row for `%s` under %q", h.key, h.group)
		}
	}
}

// headingAt is the index of the newline before the "## name" or "### name" heading, or -1.
func headingAt(doc, name string) int {
	for _, prefix := range []string{"\n## ", "\n### "} {
		if i := strings.Index(doc, prefix+name+"\n"); i >= 0 {
			return i
		}
	}
	return -1
}

// usageText runs wsd with args and returns what it printed; it must succeed and write nothing to
// stderr.
func usageText(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("wsd %v: %v", args, err)
	}
	if errOut.Len() > 0 {
		t.Fatalf("wsd %v wrote to stderr: %q", args, errOut.String())
	}
	return out.String()
}

var usageHeading = regexp.MustCompile(`^(\S.*):$`)

// usageSections splits wsd -h into its groups: heading -> lines, and the headings in order.
func usageSections(text string) (map[string][]string, []string) {
	sections := map[string][]string{}
	var order []string
	cur := ""
	for line := range strings.Lines(text) {
		line = strings.TrimSuffix(line, "\n")
		if m := usageHeading.FindStringSubmatch(line); m != nil {
			cur = m[1]
			order = append(order, cur)
			continue
		}
		sections[cur] = append(sections[cur], line)
	}
	return sections, order
}

// TestUsage: wsd -h (and -help) print an intro, then every flag of the command line under its group,
// in the order of docs/configuration.md, each with its default, its variable and a description.
func TestUsage(t *testing.T) {
	text := usageText(t, "-h")
	if help := usageText(t, "-help"); help != text {
		t.Fatal("-help differs from -h")
	}
	for _, want := range []string{"wsd is a WebSocket server", "Usage: wsd [flags]",
		"defaults < YAML file (-config, or $WSD_CONFIG) < environment variables", "docs/configuration.md"} {
		if !strings.Contains(text, want) {
			t.Errorf("the intro lacks %q", want)
		}
	}
	if strings.Contains(text, "sets ") {
		t.Errorf("a description still says \"sets ...\":\n%s", text)
	}
	sections, order := usageSections(text)
	var groups []string
	for _, g := range helpGroups(defaults()) {
		groups = append(groups, g.name)
	}
	if want := append([]string{"Actions"}, groups...); !slices.Equal(order, want) {
		t.Errorf("sections %q, want %q", order, want)
	}
	checkUsageFlags(t, sections)
	for _, want := range []string{ // a few lines spelled out: placeholders, defaults, aliases, routes
		"  -rate-limit.messages number (default 100; env WSD_RATE_LIMIT_MESSAGES)",
		"  -max-message-size size (default 1MiB; env WSD_MAX_MESSAGE_SIZE)",
		"  -idle-timeout duration (default 1m0s; env WSD_IDLE_TIMEOUT)",
		"  -slow-consumer drop|close (default drop; env WSD_SLOW_CONSUMER)",
		"  -api.protect-reads (default false; env WSD_API_PROTECT_READS)",
		`  -cluster.nats, -nats url (default ""; env WSD_CLUSTER_NATS)`,
		"  -routes.<name>.compression.enabled (default inherit (chat, ws: true); env WSD_ROUTES_<NAME>_COMPRESSION_ENABLED)",
		"        overrides -max-message-size for the route",
		"  Per WebSocket. By default a connection may send 100 messages/s (burst 200) and 1MiB/s;",
	} {
		if !strings.Contains(text, "\n"+want+"\n") {
			t.Errorf("wsd -h lacks the line %q", want)
		}
	}
}

// checkUsageFlags: every flag the command line defines is shown once (per-route flags with <name>),
// in its group, as "-flag [arg] (default X; env WSD_X)" followed by an indented description.
func checkUsageFlags(t *testing.T, sections map[string][]string) {
	t.Helper()
	where := map[string]string{} // flag -> group of the line that shows it
	for group, lines := range sections {
		for i, line := range lines {
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			names, _, _ := strings.Cut(strings.TrimSpace(line), " (")
			for _, f := range strings.Split(names, ", ") {
				f, _, _ = strings.Cut(f, " ")
				if where[f] != "" {
					t.Errorf("%s shown twice", f)
				}
				where[f] = group
			}
			if group == "Actions" {
				continue
			}
			if !regexp.MustCompile(`\(default .+; env WSD_[A-Z_<>]+\)$`).MatchString(line) {
				t.Errorf("%q: want (default X; env WSD_X)", line)
			}
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "        ") || strings.TrimSpace(lines[i+1]) == "" {
				t.Errorf("%q: no description under it", line)
			}
		}
	}
	var o options
	flagSet(&o).VisitAll(func(f *flag.Flag) {
		name := "-" + f.Name
		want := "Actions"
		if key, ok := clusterAliases[f.Name]; ok {
			h, _ := helpFor(key)
			want = h.group
		} else if l, ok := leafOfFlag(f.Name); ok {
			h, _ := helpFor(l.key)
			name, want = "-"+flagName(h.key), h.group
		}
		if got := where[name]; got != want {
			t.Errorf("flag -%s: shown as %s in %q, want in %q", f.Name, name, got, want)
		}
	})
}

// leafOfFlag finds the configuration key of a flag.
func leafOfFlag(name string) (leaf, bool) {
	for _, l := range configLeaves() {
		if l.flag == name {
			return l, true
		}
	}
	return leaf{}, false
}

// TestFlagNames: the flag names users already type keep working, aliases included, and a flag
// that does not exist is an error pointing to -h, with nothing else printed.
func TestFlagNames(t *testing.T) {
	c, err := loadArgs(t, "", nil, "-nats", "nats://127.0.0.1:4222", "-node-id", "n1", "-nats-prefix", "p",
		"-max-connections", "7", "-rate-limit.messages", "0", "-routes.echo.rate-limit.burst", "3",
		"-auth.audience", "aud", "-auth.issuer", "iss")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.NATS != "nats://127.0.0.1:4222" || c.Cluster.NodeID != "n1" || c.Cluster.Prefix != "p" ||
		c.MaxConnections != 7 || c.RateLimit.Messages != 0 || c.Routes.Echo.RateLimit.Burst != 3 ||
		c.Auth.Audience != "aud" || c.Auth.Issuer != "iss" {
		t.Fatalf("flags not applied: %+v", c)
	}
	var out, errOut strings.Builder
	err = run([]string{"-max-conections", "7"}, &out, &errOut)
	want := "flag provided but not defined: -max-conections (wsd -h lists the flags)"
	if err == nil || err.Error() != want || out.Len()+errOut.Len() > 0 {
		t.Fatalf("bad flag: %v, printed %q %q; want the error %q alone", err, out.String(), errOut.String(), want)
	}
}

// TestProcessHelp: the wsd process prints the help on stdout for -h and exits 0.
func TestProcessHelp(t *testing.T) {
	cmd := childCmd(nil, "-h")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("wsd -h: %v, stderr %q", err, stderr.String())
	}
	if !strings.Contains(string(out), "\nRate limits:\n") || !strings.Contains(string(out), "WSD_RATE_LIMIT_MESSAGES=0") {
		t.Fatalf("wsd -h printed:\n%s", out)
	}
}
