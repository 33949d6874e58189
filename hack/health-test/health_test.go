// Runs the chart's Argo CD health checks (charts/tenant-backup-operator/health/<group>/<Kind>/health.lua)
// against their health_test.yaml cases with the Lua interpreter Argo CD embeds, github.com/yuin/gopher-lua
// at the version Argo CD pins, and the same sandbox Argo CD gives a health script in its controller:
// only the package, base and table libraries (no string, math or io), the object as the global `obj`,
// a one-second limit, and the returned table read as {status, message}. A script that passes here
// therefore also runs in Argo CD; one that calls string.find or times out fails here first.
package healthtest

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const healthDir = "../../charts/tenant-backup-operator/health"

// The kinds of the API; each must have a health check.
var kinds = []string{"tenantbackup.io/Datacenter", "tenantbackup.io/Tenant", "tenantbackup.io/BackupSpace", "tenantbackup.io/Endpoint"}

// Argo CD's health status codes (gitops-engine's pkg/health); anything else Argo CD shows as Unknown.
var validStatuses = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	InputPath    string       `json:"inputPath"`
	HealthStatus healthStatus `json:"healthStatus"`
}

type testFile struct {
	Tests []testCase `json:"tests"`
}

// decodeValue turns a decoded YAML/JSON value into Lua as Argo CD's util/lua does.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

func runHealth(t *testing.T, script string, obj map[string]any) healthStatus {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatalf("opening Lua library %s: %v", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("health.lua failed: %v", err)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua must return a table, not %s", l.Get(-1).Type())
	}
	result := healthStatus{}
	if s, ok := table.RawGetString("status").(lua.LString); ok {
		result.Status = string(s)
	}
	if m, ok := table.RawGetString("message").(lua.LString); ok {
		result.Message = string(m)
	}
	if !validStatuses[result.Status] {
		t.Fatalf("health.lua returned status %q, which Argo CD shows as Unknown (valid: Healthy, Progressing, Degraded, Suspended, Missing, Unknown)", result.Status)
	}
	return result
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestHealthChecks(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(healthDir, kind)
			script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
			if err != nil {
				t.Fatal(err)
			}
			var cases testFile
			readYAML(t, filepath.Join(dir, "health_test.yaml"), &cases)
			if len(cases.Tests) == 0 {
				t.Fatalf("%s/health_test.yaml has no tests", dir)
			}
			used := map[string]bool{}
			for _, tc := range cases.Tests {
				used[filepath.Clean(tc.InputPath)] = true
				t.Run(tc.InputPath, func(t *testing.T) {
					obj := map[string]any{}
					readYAML(t, filepath.Join(dir, tc.InputPath), &obj)
					group, name, _ := strings.Cut(kind, "/")
					if apiVersion, _ := obj["apiVersion"].(string); !strings.HasPrefix(apiVersion, group+"/") || obj["kind"] != name {
						t.Fatalf("%s is a %v %v, not a %s", tc.InputPath, obj["apiVersion"], obj["kind"], kind)
					}
					got := runHealth(t, string(script), obj)
					if got != tc.HealthStatus {
						t.Errorf("health of %s\n got: %+v\nwant: %+v", tc.InputPath, got, tc.HealthStatus)
					}
				})
			}
			// Every case on disk is run: a testdata file no test names would prove nothing.
			files, err := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var orphans []string
			for _, f := range files {
				rel, _ := filepath.Rel(dir, f)
				if !used[rel] {
					orphans = append(orphans, rel)
				}
			}
			sort.Strings(orphans)
			if len(orphans) > 0 {
				t.Errorf("testdata not named by health_test.yaml: %v", orphans)
			}
		})
	}
}
