package main

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
)

// envPrefix starts every environment variable wsd reads.
const envPrefix = "WSD_"

// envConfigFile names the configuration file when -config is not given.
const envConfigFile = envPrefix + "CONFIG"

// leaf is one configuration key that holds a value (sections such as log or routes.echo are not
// leaves). Every leaf has an environment variable and a flag.
type leaf struct {
	key   string // routes.echo.max_message_size
	env   string // WSD_ROUTES_ECHO_MAX_MESSAGE_SIZE
	flag  string // routes.echo.max-message-size
	index []int  // field indexes from Config, through section pointers
	typ   reflect.Type
}

// configLeaves lists the leaves of Config in declaration order.
var configLeaves = sync.OnceValue(func() []leaf {
	var out []leaf
	walkLeaves(reflect.TypeFor[Config](), nil, nil, &out)
	return out
})

func walkLeaves(t reflect.Type, path []string, index []int, out *[]leaf) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		p, idx := append(slices.Clip(path), name), append(slices.Clip(index), i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			walkLeaves(ft, p, idx, out)
			continue
		}
		*out = append(*out, leaf{
			key:   strings.Join(p, "."),
			env:   envPrefix + strings.ToUpper(strings.Join(p, "_")),
			flag:  strings.ReplaceAll(strings.Join(p, "."), "_", "-"),
			index: idx,
			typ:   f.Type,
		})
	}
}

// isBool reports whether the leaf is a flag that needs no value (-routes.echo.enabled).
func (l leaf) isBool() bool {
	t := l.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Bool
}

// value returns the leaf's field in c, allocating nil section pointers when alloc is set; ok is
// false when a section on the way is nil and alloc is not set.
func (l leaf) value(c *Config, alloc bool) (v reflect.Value, ok bool) {
	v = reflect.ValueOf(c).Elem()
	for _, i := range l.index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !alloc {
					return v, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}

// set parses s into the leaf's field of c; a pointer field (a route override) is set to a new value.
func (l leaf) set(c *Config, s string) error {
	v, _ := l.value(c, true)
	if v.Kind() != reflect.Pointer {
		return setValue(v, s)
	}
	nv := reflect.New(v.Type().Elem())
	if err := setValue(nv.Elem(), s); err != nil {
		return err
	}
	v.Set(nv)
	return nil
}

// setValue parses s into v by v's type: the scalar types parse themselves, lists are
// comma-separated (or a YAML flow sequence), maps are YAML flow mappings.
func setValue(v reflect.Value, s string) error {
	if sc, ok := v.Addr().Interface().(scalar); ok {
		return sc.set(s)
	}
	t := strings.TrimSpace(s)
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", s)
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.ParseInt(t, 10, 0)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		return setList(v, t)
	case reflect.Map:
		return setMap(v, t)
	default:
		return fmt.Errorf("cannot be set from text (%s)", v.Type())
	}
	return nil
}

// setList sets a []string from "a, b" or "[a, b]"; "" is the empty list.
func setList(v reflect.Value, s string) error {
	list := []string{}
	if strings.HasPrefix(s, "[") {
		if err := yaml.Unmarshal([]byte(s), &list); err != nil {
			return fmt.Errorf("invalid list %q", s)
		}
	} else {
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
	}
	v.Set(reflect.ValueOf(list))
	return nil
}

// setMap sets a map from a YAML flow mapping such as {publish: {per_second: 10, burst: 20}}.
func setMap(v reflect.Value, s string) error {
	m := reflect.New(v.Type())
	m.Elem().Set(reflect.MakeMap(v.Type()))
	if s != "" {
		if err := yaml.UnmarshalWithOptions([]byte(s), m.Interface(), yaml.Strict()); err != nil {
			return fmt.Errorf("invalid mapping %q: %s", s, yamlMessage(err))
		}
	}
	v.Set(m.Elem())
	return nil
}

// configError names where a bad value came from (the file, an environment variable or a flag) and
// its key. main prints it after "wsd: ".
type configError struct {
	source, key, problem string
}

func (e *configError) Error() string { return e.source + ": " + e.key + ": " + e.problem }

// setting is one configuration value from the environment or the command line.
type setting struct {
	leaf  leaf
	value string
	flag  string // the flag as given, when it is not leaf.flag (an alias such as -nats)
}

// leafByKey returns the leaf of a configuration key; it panics on a key that does not exist (a
// programming error, caught by the tests).
func leafByKey(key string) leaf {
	for _, l := range configLeaves() {
		if l.key == key {
			return l
		}
	}
	panic("wsd: no configuration key " + key)
}

// loadInput is what the configuration is made of, besides the defaults.
type loadInput struct {
	file  string    // YAML file; "" for none
	env   []string  // KEY=value, as os.Environ
	flags []setting // in command-line order
}

// loadConfig builds the effective configuration: defaults < file < environment < flags, then
// resolve and validate. Warnings name WSD_ variables that are not configuration keys.
func loadConfig(in loadInput) (*Config, []string, error) {
	c := defaults()
	src := sources{}
	if in.file != "" {
		data, err := os.ReadFile(in.file)
		if err != nil {
			return nil, nil, err
		}
		if err := decodeFile(c, in.file, data, src); err != nil {
			return nil, nil, err
		}
	}
	env, warnings := envSettings(in.env)
	for _, s := range env {
		name := "environment " + s.leaf.env
		if err := s.leaf.set(c, s.value); err != nil {
			return nil, nil, &configError{name, s.leaf.key, err.Error()}
		}
		src[s.leaf.key] = name
	}
	for _, s := range in.flags {
		name := "flag -" + s.leaf.flag
		if s.flag != "" {
			name = "flag -" + s.flag
		}
		if err := s.leaf.set(c, s.value); err != nil {
			return nil, nil, &configError{name, s.leaf.key, err.Error()}
		}
		src[s.leaf.key] = name
	}
	c.resolve()
	if err := c.validate(src); err != nil {
		return nil, nil, err
	}
	return c, warnings, nil
}

// envSettings picks the configuration variables out of env, in leaf order, and warns about other
// WSD_ variables (a typo would otherwise go unnoticed).
func envSettings(env []string) ([]setting, []string) {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix) {
			vars[k] = v
		}
	}
	var out []setting
	for _, l := range configLeaves() {
		if v, ok := vars[l.env]; ok {
			out = append(out, setting{leaf: l, value: v})
			delete(vars, l.env)
		}
	}
	delete(vars, envConfigFile)
	var warnings []string
	for k := range vars {
		warnings = append(warnings, "ignoring "+k+": not a configuration variable")
	}
	slices.Sort(warnings)
	return out, warnings
}

// sources maps keys to where their value came from; a key not in it inherits its section's source,
// and "default" at the top.
type sources map[string]string

func (s sources) of(key string) string {
	for k := key; k != ""; {
		if src, ok := s[k]; ok {
			return src
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return "default"
}
