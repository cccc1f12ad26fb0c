package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/vigil-monitor/vigil"

// influxAdapter is the package that wraps the InfluxDB client.
const influxAdapter = module + "/pkg/influxdb"

// pkg is what go list says of one package of the module.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// listPackages runs go list over the module, once per test binary.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// wiring is code that opens the pools and clients and hands them to the adapters: the
// binaries and the connect helper.
func wiring(path string) bool { return under(path, module+"/cmd") || path == module+"/pkg/connect" }

// TestDriversOnlyInTheirAdapter: apart from the wiring, only the PostgreSQL adapter imports
// pgx, only the Redis adapter imports go-redis and only the InfluxDB adapter imports the
// InfluxDB client (test helpers such as pgtest and redistest sit inside their adapter). Test
// files are not production code and may use the drivers to set up and inspect the stores.
func TestDriversOnlyInTheirAdapter(t *testing.T) {
	t.Parallel()
	drivers := []struct{ driver, adapter string }{
		{"github.com/jackc/pgx/", module + "/pkg/postgres"},
		{"github.com/redis/go-redis/", module + "/pkg/queue"},
		{"github.com/influxdata/influxdb-client-go/", influxAdapter},
	}
	for _, p := range listPackages(t) {
		if wiring(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			for _, d := range drivers {
				if strings.HasPrefix(imp, d.driver) && !under(p.ImportPath, d.adapter) {
					t.Errorf("%s imports %s: only %s (and cmd/, pkg/connect) may", p.ImportPath, imp, d.adapter)
				}
			}
		}
	}
}

// TestHandlersDoNotImportTheScheduler: the API and the dashboard read schedules through the
// domain (monitor), not through the scheduler's process loop.
func TestHandlersDoNotImportTheScheduler(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/pkg/httpapi" && p.ImportPath != module+"/pkg/web" {
			continue
		}
		for _, dep := range p.Deps {
			if dep == module+"/pkg/scheduler" {
				t.Errorf("%s depends on pkg/scheduler", p.ImportPath)
			}
		}
	}
}

// notifierPostgresUse is what the notifier may take from the PostgreSQL adapter: its stores,
// transactions and their arguments (DeliveryOutcome is what OutboxStore.Record writes), never
// the types of its domain values (incidents, notifications, causes), which live in pkg/monitor.
var notifierPostgresUse = regexp.MustCompile(`^(DB|New\w*|\w+Store|\w+Tx|IsUnavailable|DeliveryOutcome)$`)

// TestNotifierUsesDomainTypes: the notifier names no postgres type for a domain value.
func TestNotifierUsesDomainTypes(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/pkg/notifier" {
			continue
		}
		for _, f := range parseFiles(t, p) {
			ast.Inspect(f.file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "postgres" && !notifierPostgresUse.MatchString(sel.Sel.Name) {
					t.Errorf("%s: notifier uses postgres.%s for a domain value", f.pos(sel), sel.Sel.Name)
				}
				return true
			})
		}
	}
}

type parsedFile struct {
	fset *token.FileSet
	file *ast.File
}

func (f parsedFile) pos(n ast.Node) token.Position { return f.fset.Position(n.Pos()) }

// parseFiles parses p's non-test Go files.
func parseFiles(t *testing.T, p pkg) []parsedFile {
	t.Helper()
	var out []parsedFile
	for _, name := range p.GoFiles {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		out = append(out, parsedFile{fset, f})
	}
	return out
}

// sqlText matches the string literals that are SQL: statements, the advisory-lock and
// LISTEN/NOTIFY functions. Keywords are upper case, as every query in pkg/postgres writes them,
// so that prose ("Select a region") does not match.
var sqlText = regexp.MustCompile(`\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b|` +
	`\bpg_(try_)?advisory|\bpg_notify\b|^\s*(LISTEN|NOTIFY) `)

// redisCommand matches a string literal that is a Redis command name (upper case, as passed to
// Do) or a Lua script that calls Redis.
var redisCommand = regexp.MustCompile(`^(XADD|XLEN|XINFO|XREADGROUP|XACK|XAUTOCLAIM|XCLAIM|XPENDING|XRANGE|XDEL|XTRIM|` +
	`XGROUP|HSET|HGET|HMGET|HGETALL|HDEL|ZADD|ZRANGE|ZRANGEBYSCORE|ZREM|EVAL|EVALSHA|SCRIPT|SCAN|DEL|UNLINK)$|redis\.p?call\(`)

// redisMethod matches the go-redis client methods that run commands.
var redisMethod = regexp.MustCompile(`^(X(Add|Len|InfoGroups|InfoStream|ReadGroup|Ack|AutoClaim\w*|Claim|Pending\w*|Range|RevRange|Del|Trim\w*|GroupCreate\w*|GroupDestroy)|` +
	`H(Set|Get|MGet|GetAll|Del|Incr\w*)|Z(Add|Range\w*|Rem\w*|Card)|EvalSha|EvalRO|Eval|ScriptLoad|Pipelined|TxPipelined|Unlink)$`)

// TestStoreCommandsOnlyInTheirAdapter: no SQL text outside pkg/postgres and no Redis command
// outside pkg/queue, in production code. The wiring may ping, and the benchmark harness (cmd/)
// seeds and inspects the stores directly.
func TestStoreCommandsOnlyInTheirAdapter(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		if wiring(p.ImportPath) {
			continue
		}
		inPostgres := under(p.ImportPath, module+"/pkg/postgres")
		inQueue := under(p.ImportPath, module+"/pkg/queue")
		for _, f := range parseFiles(t, p) {
			ast.Inspect(f.file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if n.Kind != token.STRING {
						return true
					}
					s, err := strconv.Unquote(n.Value)
					if err != nil {
						return true
					}
					if !inPostgres && sqlText.MatchString(s) {
						t.Errorf("%s: SQL outside pkg/postgres: %.60q", f.pos(n), s)
					}
					if !inQueue && redisCommand.MatchString(s) {
						t.Errorf("%s: Redis command outside pkg/queue: %.60q", f.pos(n), s)
					}
				case *ast.SelectorExpr:
					if !inQueue && redisMethod.MatchString(n.Sel.Name) {
						t.Errorf("%s: go-redis method %s outside pkg/queue", f.pos(n), n.Sel.Name)
					}
				}
				return true
			})
		}
	}
}
