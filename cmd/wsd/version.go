package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3" ./cmd/wsd.
var version = "dev"

// build names what the binary was built from.
type build struct {
	version, goVersion, gnet string
}

// gnetModule is the module path whose version -version and wsd_build_info report.
const gnetModule = "github.com/panjf2000/gnet/v2"

var buildInfo = sync.OnceValue(func() build {
	b := build{version: version, goVersion: runtime.Version(), gnet: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == gnetModule {
				b.gnet = dep.Version
				if dep.Replace != nil {
					b.gnet = dep.Replace.Version
				}
			}
		}
	}
	return b
})

// versionText is the output of wsd -version.
func versionText() string {
	b := buildInfo()
	return fmt.Sprintf("wsd %s\ngo %s %s/%s\ngnet %s\n", b.version, b.goVersion, runtime.GOOS, runtime.GOARCH, b.gnet)
}
