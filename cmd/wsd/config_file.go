package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// decodeFile decodes a YAML configuration file over c, strictly: an unknown key, a duplicate key or
// a value of the wrong type is an error naming the file and the key. The keys the file sets are
// recorded in src.
func decodeFile(c *Config, name string, data []byte, src sources) error {
	if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
		return fileError(name, data, err)
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return fileError(name, data, err)
	}
	for _, doc := range f.Docs {
		ast.Walk(keyCollector(func(key string) { src[key] = name }), doc)
	}
	return nil
}

// keyCollector calls its function with the key of every mapping entry.
type keyCollector func(key string)

func (k keyCollector) Visit(n ast.Node) ast.Visitor {
	if mv, ok := n.(*ast.MappingValueNode); ok {
		k(nodeKey(mv))
	}
	return k
}

// fileError turns a decoding error into a configError naming the file and the key.
func fileError(name string, data []byte, err error) error {
	var ke *keyError
	if errors.As(err, &ke) {
		return &configError{name, ke.key, ke.err.Error()}
	}
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return fmt.Errorf("%s: %s", name, yamlMessage(err))
	}
	tok := ye.GetToken()
	key := keyAt(data, tok)
	problem := ye.GetMessage()
	var unknown *yaml.UnknownFieldError
	var dup *yaml.DuplicateKeyError
	var typ *yaml.TypeError
	switch {
	case errors.As(err, &unknown):
		problem = "unknown key"
	case errors.As(err, &dup) || strings.Contains(problem, "already defined"):
		problem = "duplicate key"
	case errors.As(err, &typ):
		problem = fmt.Sprintf("invalid value %q (want %s)", tok.Value, kindName(typ.DstType))
	}
	if key == "" {
		return fmt.Errorf("%s: line %d: %s", name, tok.Position.Line, problem)
	}
	return &configError{name, key, problem}
}

// keyAt finds the key of the node at tok's position ("" when the file does not parse even with
// duplicate keys allowed).
func keyAt(data []byte, tok *token.Token) string {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return ""
	}
	finder := &keyFinder{line: tok.Position.Line, col: tok.Position.Column}
	for _, doc := range f.Docs {
		ast.Walk(finder, doc)
	}
	return finder.key
}

// keyFinder looks for the mapping entry whose key or value starts at (line, col), or failing that
// any node there (an element of a list).
type keyFinder struct {
	line, col int
	key       string
}

func (f *keyFinder) Visit(n ast.Node) ast.Visitor {
	if mv, ok := n.(*ast.MappingValueNode); ok && (f.at(mv.Key) || f.at(mv.Value)) {
		f.key = nodeKey(mv)
	} else if f.key == "" && f.at(n) {
		f.key = nodeKey(n)
	}
	return f
}

func (f *keyFinder) at(n ast.Node) bool {
	if n == nil || n.GetToken() == nil {
		return false
	}
	p := n.GetToken().Position
	return p.Line == f.line && p.Column == f.col
}

// kindName names a Go type the way a configuration author thinks of it.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// yamlMessage is a YAML error's message without goccy's source excerpt.
func yamlMessage(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		if tok := ye.GetToken(); tok != nil {
			msg = fmt.Sprintf("line %d: %s", tok.Position.Line, msg)
		}
		return msg
	}
	return strings.TrimSpace(err.Error())
}
