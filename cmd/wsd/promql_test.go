package main

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A small PromQL scanner for the dashboard test: it finds the metric names of an expression, the
// function each is the argument of, and the labels of by/without clauses. It skips label matchers,
// range selectors, strings and Grafana variables, and refuses unbalanced brackets and characters
// PromQL does not use.

// metricRef is a metric name in an expression and the innermost function or aggregation around it
// ("" at the top level).
type metricRef struct{ name, fn string }

// promqlRefs is what scanPromQL finds.
type promqlRefs struct {
	metrics []metricRef
	labels  []string // of by (...) and without (...)
}

var (
	promqlAggregations = []string{"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar",
		"topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset"}
	promqlGrouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	labelNameRE    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// scanner walks one expression.
type scanner struct {
	s       string
	i       int
	stack   []string // open parentheses: the function each belongs to ("" for a plain group)
	pending string   // function or aggregation whose "(" comes next
	refs    promqlRefs
}

func scanPromQL(expr string) (promqlRefs, error) {
	sc := &scanner{s: expr}
	for sc.skipSpace(); sc.i < len(sc.s); sc.skipSpace() {
		if err := sc.step(); err != nil {
			return promqlRefs{}, err
		}
	}
	if len(sc.stack) > 0 {
		return promqlRefs{}, fmt.Errorf("unclosed (")
	}
	return sc.refs, nil
}

func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) && strings.ContainsRune(" \t\n", rune(sc.s[sc.i])) {
		sc.i++
	}
}

// step consumes one token.
func (sc *scanner) step() error {
	c := sc.s[sc.i]
	switch {
	case c == '"' || c == '\'' || c == '`':
		return sc.skipString()
	case c == '{':
		return sc.skipTo('}')
	case c == '[':
		return sc.skipTo(']')
	case c == '(':
		sc.stack = append(sc.stack, sc.pending)
		sc.pending = ""
		sc.i++
	case c == ')':
		if len(sc.stack) == 0 {
			return fmt.Errorf("unbalanced ) at %d", sc.i)
		}
		sc.stack = sc.stack[:len(sc.stack)-1]
		sc.i++
	case c >= '0' && c <= '9' || c == '.':
		sc.word()
	case c == '$':
		sc.i++
		sc.word()
	case isIdentStart(c):
		return sc.ident(sc.word())
	case strings.IndexByte("+-*/%^=!<>,", c) >= 0:
		sc.i++
	default:
		return fmt.Errorf("unexpected %q at %d", c, sc.i)
	}
	return nil
}

func isIdentStart(c byte) bool { return c == '_' || c == ':' || c|0x20 >= 'a' && c|0x20 <= 'z' }

// word consumes letters, digits, _, : and . and returns them.
func (sc *scanner) word() string {
	start := sc.i
	for sc.i < len(sc.s) && (isIdentStart(sc.s[sc.i]) || sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' || sc.s[sc.i] == '.') {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// ident handles an identifier: a grouping clause, an aggregation, a function, a keyword or a metric.
func (sc *scanner) ident(w string) error {
	sc.skipSpace()
	next := byte(0)
	if sc.i < len(sc.s) {
		next = sc.s[sc.i]
	}
	switch {
	case slices.Contains(promqlGrouping, w):
		if next != '(' {
			return nil // group_left without labels
		}
		end := strings.IndexByte(sc.s[sc.i:], ')')
		if end < 0 {
			return fmt.Errorf("unclosed %s (", w)
		}
		for l := range strings.SplitSeq(sc.s[sc.i+1:sc.i+end], ",") {
			l = strings.TrimSpace(l)
			if !labelNameRE.MatchString(l) {
				return fmt.Errorf("%s (...): %q is not a label name", w, l)
			}
			if w == "by" || w == "without" {
				sc.refs.labels = append(sc.refs.labels, l)
			}
		}
		sc.i += end + 1
	case slices.Contains(promqlAggregations, w) || next == '(':
		sc.pending = w
	case slices.Contains(promqlKeywords, w):
	default:
		fn := ""
		if len(sc.stack) > 0 {
			fn = sc.stack[len(sc.stack)-1]
		}
		sc.refs.metrics = append(sc.refs.metrics, metricRef{w, fn})
	}
	return nil
}

// skipString skips a quoted string (with backslash escapes, except in backquotes).
func (sc *scanner) skipString() error {
	q := sc.s[sc.i]
	for j := sc.i + 1; j < len(sc.s); j++ {
		switch {
		case sc.s[j] == '\\' && q != '`':
			j++
		case sc.s[j] == q:
			sc.i = j + 1
			return nil
		}
	}
	return fmt.Errorf("unterminated string at %d", sc.i)
}

// skipTo skips a bracketed part (label matchers, a range) up to its closing character, strings
// inside included.
func (sc *scanner) skipTo(end byte) error {
	start := sc.i
	for sc.i++; sc.i < len(sc.s); {
		switch c := sc.s[sc.i]; {
		case c == end:
			sc.i++
			return nil
		case c == '"' || c == '\'' || c == '`':
			if err := sc.skipString(); err != nil {
				return err
			}
		default:
			sc.i++
		}
	}
	return fmt.Errorf("unclosed %q at %d", sc.s[start], start)
}

// TestScanPromQL: the scanner finds metrics with their functions and grouping labels, and refuses
// broken expressions (the dashboard test relies on it).
func TestScanPromQL(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		metrics []metricRef
		labels  []string
	}{
		{`wsd_websockets`, []metricRef{{"wsd_websockets", ""}}, nil},
		{`sum(rate(wsd_upgrades_total{instance=~"$instance"}[$__rate_interval]))`,
			[]metricRef{{"wsd_upgrades_total", "rate"}}, nil},
		{`sum by (reason) (rate(wsd_handshakes_rejected_total{a="}"}[5m])) > 0`,
			[]metricRef{{"wsd_handshakes_rejected_total", "rate"}}, []string{"reason"}},
		{`max without (code, x) (wsd_loop_lag_seconds) / on (instance) group_left process_max_fds`,
			[]metricRef{{"wsd_loop_lag_seconds", "max"}, {"process_max_fds", ""}}, []string{"code", "x"}},
		{`(a + b) * 2e3 and bool c offset 5m`, []metricRef{{"a", ""}, {"b", ""}, {"c", ""}}, nil},
	} {
		refs, err := scanPromQL(tc.expr)
		if err != nil || !reflect.DeepEqual(refs.metrics, tc.metrics) || !reflect.DeepEqual(refs.labels, tc.labels) {
			t.Errorf("%s: %+v %v, want %+v %v", tc.expr, refs, err, tc.metrics, tc.labels)
		}
	}
	for _, bad := range []string{`sum(x`, `x)`, `x{a="b"`, `x[5m`, `x{a="b}`, `x # y`, `sum by (a (x)`} {
		if refs, err := scanPromQL(bad); err == nil {
			t.Errorf("%s: %+v, want an error", bad, refs)
		}
	}
}
