package deploy

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/httpapi"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// root is the repository, seen from this package's directory.
const root = ".."

// roles are the four binaries, each with the config struct its main loads. The variables a
// deployment file sets for a role must be ones that struct reads: a misspelt variable is
// silently ignored by the binary, and only this test notices.
var roles = map[string]any{
	"api":       &config.API{},
	"scheduler": &config.Scheduler{},
	"worker":    &config.Worker{},
	"notifier":  &config.Notifier{},
}

// devOnly are cmd/ directories that are deliberately not in the image.
var devOnly = map[string]bool{
	"mailsink":    true, // the SMTP sink of scripts/run-local; docker-compose uses mailpit
	"vigil-bench": true, // the benchmark harness of make bench (issue 8)
}

// binary is the name of a cmd/ directory's binary in the image.
func binary(cmd string) string { return "vigil-" + cmd }

// roleOf returns the role a container runs from its command, e.g. "/usr/local/bin/vigil-worker".
func roleOf(command []string) string {
	if len(command) == 0 {
		return ""
	}
	return strings.TrimPrefix(filepath.Base(command[0]), "vigil-")
}

// readsEnv returns the variables a role's config struct reads.
func readsEnv(t *testing.T, role string) map[string]bool {
	t.Helper()
	cfg, ok := roles[role]
	require.True(t, ok, "role %q has no config struct in the roles table", role)
	params, err := env.GetFieldParams(cfg)
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, p := range params {
		keys[p.Key] = true
	}
	return keys
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	require.NoError(t, err)
	return b
}

// portOf returns the port of a listen address such as ":9090".
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err, "address %q", addr)
	return port
}

// --- Dockerfile -----------------------------------------------------------------------------

var (
	buildLine = regexp.MustCompile(`go build -trimpath -ldflags "-s -w" -o /out/(\S+) \./cmd/(\S+)`)
	copyLine  = regexp.MustCompile(`(?m)^COPY --from=build /out/(\S+) /usr/local/bin/(\S+)$`)
)

// imageBinaries returns the binaries the image installs in /usr/local/bin.
func imageBinaries(t *testing.T) map[string]bool {
	t.Helper()
	df := string(read(t, "Dockerfile"))
	built := map[string]string{} // binary -> cmd dir
	for _, m := range buildLine.FindAllStringSubmatch(df, -1) {
		built[m[1]] = m[2]
	}
	out := map[string]bool{}
	for _, m := range copyLine.FindAllStringSubmatch(df, -1) {
		require.Equal(t, m[1], m[2], "the image keeps the built name")
		_, ok := built[m[1]]
		require.True(t, ok, "COPY of %s, which no go build line produces", m[1])
		out[m[2]] = true
	}
	for bin, dir := range built {
		require.Equal(t, binary(dir), bin, "./cmd/%s must build as %s", dir, binary(dir))
		require.True(t, out[bin], "%s is built but not copied into the final image", bin)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	df := string(read(t, "Dockerfile"))
	bins := imageBinaries(t)

	// Every cmd/ directory with Go code is in the image, or is a known development tool; every
	// binary in the image has its cmd/ directory.
	entries, err := os.ReadDir(filepath.Join(root, "cmd"))
	require.NoError(t, err)
	dirs := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		gofiles, err := filepath.Glob(filepath.Join(root, "cmd", e.Name(), "*.go"))
		require.NoError(t, err)
		if len(gofiles) == 0 {
			continue
		}
		dirs[e.Name()] = true
		if devOnly[e.Name()] {
			require.False(t, bins[binary(e.Name())], "%s is marked development-only but is in the image", e.Name())
			continue
		}
		require.True(t, bins[binary(e.Name())], "cmd/%s is neither in the image nor in devOnly", e.Name())
	}
	for bin := range bins {
		dir := strings.TrimPrefix(bin, "vigil-")
		require.True(t, dirs[dir], "the image installs %s but cmd/%s has no Go files", bin, dir)
	}
	for role := range roles {
		require.True(t, bins[binary(role)], "role %s missing from the image", role)
	}
	for _, role := range []string{"api", "scheduler", "worker", "notifier", "healthcheck"} {
		require.True(t, bins[binary(role)], "%s missing from the image", binary(role))
	}

	for _, want := range []string{
		"FROM golang:1.26 AS build",
		"ENV CGO_ENABLED=0",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER nonroot:nonroot",
	} {
		require.Contains(t, df, want)
	}
	// The default command is a binary of the image.
	m := regexp.MustCompile(`(?m)^CMD \["/usr/local/bin/([^"]+)"\]$`).FindStringSubmatch(df)
	require.NotNil(t, m, "the Dockerfile needs an exec-form CMD")
	require.True(t, bins[m[1]])
}

func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	lines := strings.Split(string(read(t, ".dockerignore")), "\n")
	for _, want := range []string{".git", ".env", ".stack", "bin"} {
		require.Contains(t, lines, want)
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd", "pkg", "store"} {
		require.NotContains(t, lines, keep, "the build needs %s", keep)
	}
}

// --- docker-compose.yml ---------------------------------------------------------------------

type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Restart     string            `json:"restart"`
	Profiles    []string          `json:"profiles"`
	ReadOnly    bool              `json:"read_only"`
	Healthcheck *struct {
		Test    []string `json:"test"`
		Disable bool     `json:"disable"`
	} `json:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Deploy *struct {
		Replicas int `json:"replicas"`
	} `json:"deploy"`
}

func (s composeService) oneShot() bool { return s.Restart == "no" }

func (s composeService) healthy() bool {
	return s.Healthcheck != nil && !s.Healthcheck.Disable && len(s.Healthcheck.Test) > 0
}

func (s composeService) replicas() int {
	if s.Deploy == nil || s.Deploy.Replicas == 0 {
		return 1
	}
	return s.Deploy.Replicas
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	require.NoError(t, yaml.Unmarshal(read(t, "docker-compose.yml"), &c))
	return c
}

// vigilServices returns the compose services that run a Vigil binary, by name.
func vigilServices(c composeFile) map[string]composeService {
	out := map[string]composeService{}
	for name, s := range c.Services {
		if len(s.Command) > 0 && strings.HasPrefix(filepath.Base(s.Command[0]), "vigil-") {
			out[name] = s
		}
	}
	return out
}

func TestComposeRoles(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	bins := imageBinaries(t)
	replicas := map[string]int{}
	regions := map[string]int{}
	for name, s := range vigilServices(c) {
		role := roleOf(s.Command)
		require.True(t, bins[filepath.Base(s.Command[0])], "service %s runs %s, which the image does not have", name, s.Command[0])
		require.Equal(t, "/usr/local/bin/"+binary(role), s.Command[0], "service %s", name)
		require.Equal(t, "${VIGIL_IMAGE:-vigil:local}", s.Image, "service %s runs the Vigil image", name)
		require.NotNil(t, s.Build, "service %s builds the image from this checkout", name)
		if s.oneShot() {
			continue
		}
		require.True(t, s.ReadOnly, "service %s: read-only root filesystem", name)
		replicas[role] += s.replicas()
		if role == "worker" {
			region := s.Environment["VIGIL_REGION"]
			require.NotEmpty(t, region, "worker service %s sets VIGIL_REGION", name)
			require.Equal(t, "worker-"+region, name, "worker services are named after their region")
			require.Equal(t, 2, s.replicas(), "worker service %s: two replicas", name)
			regions[region]++
		}
	}
	require.Equal(t, 1, replicas["api"])
	require.Equal(t, 2, replicas["scheduler"], "two schedulers: one leads, one stands by")
	require.Equal(t, 1, replicas["notifier"])
	require.Len(t, regions, 2, "workers for two regions")
	for region, n := range regions {
		require.Equal(t, 1, n, "one worker service per region (%s)", region)
	}
}

// requiredEnv lists the variables every deployment of role must set: the stores its config
// reads (and only those: the other tests refuse variables a role does not read), and where it
// serves and how it logs.
func requiredEnv(t *testing.T, role string) []string {
	reads := readsEnv(t, role)
	required := []string{"REDIS_URL", "VIGIL_METRICS_ADDR", "VIGIL_LOG_FORMAT"}
	for _, k := range []string{"DATABASE_URL", "INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG", "INFLUXDB_BUCKET"} {
		if reads[k] {
			required = append(required, k)
		}
	}
	return required
}

// TestComposeEnvironment checks that every variable set for a Vigil service is one its role
// reads, and that each service reaches the stores.
func TestComposeEnvironment(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range vigilServices(c) {
		t.Run(name, func(t *testing.T) {
			role := roleOf(s.Command)
			if s.oneShot() {
				role = "api" // migrate runs vigil-api migrate
			}
			require.Contains(t, roles, role, "no config struct for role %s in pkg/config", role)
			reads := readsEnv(t, role)
			for k := range s.Environment {
				require.True(t, reads[k], "service %s sets %s, which %s does not read (typo?)", name, k, role)
			}
			for _, k := range requiredEnv(t, role) {
				require.Contains(t, s.Environment, k, "service %s", name)
			}
			require.Equal(t, "9090", portOf(t, s.Environment["VIGIL_METRICS_ADDR"]), "the scrape config and the health check expect :9090")
			require.Contains(t, s.Environment["REDIS_URL"], "@redis:6379/")
			if reads["DATABASE_URL"] {
				require.Contains(t, s.Environment["DATABASE_URL"], "@postgres:5432/")
			}
			if reads["INFLUXDB_URL"] {
				require.Equal(t, "http://influxdb:8086", s.Environment["INFLUXDB_URL"])
			}
		})
	}
}

// TestComposeHealth checks that every long-running service has a health check, that every
// depends_on condition is one its target can meet, and that the Vigil health checks hit a
// path the binary serves on a port it listens on.
func TestComposeHealth(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	bins := imageBinaries(t)
	for name, s := range c.Services {
		if s.oneShot() {
			require.False(t, s.healthy(), "one-shot service %s: nothing to check", name)
			dependedOn := false
			for _, other := range c.Services {
				if d, ok := other.DependsOn[name]; ok {
					require.Equal(t, "service_completed_successfully", d.Condition, "depending on one-shot %s", name)
					dependedOn = true
				}
			}
			require.True(t, dependedOn, "one-shot service %s must gate something", name)
		} else {
			require.True(t, s.healthy(), "service %s needs a health check", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			require.True(t, ok, "service %s depends on unknown service %s", name, dep)
			switch d.Condition {
			case "service_healthy":
				require.True(t, target.healthy(), "%s waits for %s to be healthy, which has no health check", name, dep)
			case "service_completed_successfully":
				require.True(t, target.oneShot(), "%s waits for %s to complete, which does not exit", name, dep)
			default:
				t.Errorf("service %s: depends_on %s with condition %q", name, dep, d.Condition)
			}
		}
	}

	for name, s := range vigilServices(c) {
		if s.oneShot() {
			continue
		}
		role := roleOf(s.Command)
		test := s.Healthcheck.Test
		require.Equal(t, "CMD", test[0], "service %s: exec form, the image has no shell", name)
		require.Equal(t, "/usr/local/bin/vigil-healthcheck", test[1], "service %s", name)
		require.True(t, bins["vigil-healthcheck"])
		if len(test) == 2 {
			// vigil-healthcheck derives http://127.0.0.1:<port>/healthz from VIGIL_METRICS_ADDR.
			require.NotEmpty(t, s.Environment["VIGIL_METRICS_ADDR"], "service %s", name)
			continue
		}
		require.Len(t, test, 3, "service %s", name)
		require.Equal(t, "api", role, "only the api's health check names a URL")
		require.Equal(t, "http://127.0.0.1:"+portOf(t, s.Environment["API_ADDR"])+"/healthz", test[2])
		require.Contains(t, s.Ports, "${API_PORT:-3002}:"+portOf(t, s.Environment["API_ADDR"]))
	}
	require.Equal(t, "service_completed_successfully", c.Services["api"].DependsOn["migrate"].Condition)
	require.Equal(t, []string{"/usr/local/bin/vigil-api", "migrate"}, c.Services["migrate"].Command)
}

func TestComposeStores(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for _, tc := range []struct {
		service, image, volume string
	}{
		{"postgres", "postgres:16", "postgres-data:/var/lib/postgresql/data"},
		{"redis", "redis:7", "redis-data:/data"},
		{"influxdb", "influxdb:2.7", "influxdb-data:/var/lib/influxdb2"},
		{"mailpit", "axllent/mailpit:v1.31.1", ""},
	} {
		s, ok := c.Services[tc.service]
		require.True(t, ok, tc.service)
		require.Equal(t, tc.image, s.Image)
		if tc.volume != "" {
			require.Contains(t, s.Volumes, tc.volume)
			require.Contains(t, c.Volumes, strings.Split(tc.volume, ":")[0])
		}
	}
	require.Contains(t, strings.Join(c.Services["redis"].Command, " "), "--appendonly yes")
	require.Contains(t, strings.Join(c.Services["postgres"].Healthcheck.Test, " "), "pg_isready")
	influx := c.Services["influxdb"].Environment
	require.Equal(t, "setup", influx["DOCKER_INFLUXDB_INIT_MODE"])
	for _, k := range []string{"DOCKER_INFLUXDB_INIT_ORG", "DOCKER_INFLUXDB_INIT_BUCKET", "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN", "DOCKER_INFLUXDB_INIT_USERNAME", "DOCKER_INFLUXDB_INIT_PASSWORD"} {
		require.True(t, strings.HasPrefix(influx[k], "${"), "%s comes from .env", k)
	}
	// Vigil writes with the token, org and bucket InfluxDB was set up with.
	api := c.Services["api"].Environment
	require.Equal(t, influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"], api["INFLUXDB_TOKEN"])
	require.Equal(t, influx["DOCKER_INFLUXDB_INIT_ORG"], api["INFLUXDB_ORG"])
	require.Equal(t, influx["DOCKER_INFLUXDB_INIT_BUCKET"], api["INFLUXDB_BUCKET"])
	notifier := c.Services["notifier"].Environment
	require.Equal(t, "${SMTP_HOST:-mailpit}", notifier["SMTP_HOST"])
	require.Equal(t, "${SMTP_PORT:-1025}", notifier["SMTP_PORT"])
}

var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)`)

// TestEnvExample checks that .env.example documents every variable docker-compose.yml
// interpolates, and holds nothing it does not.
func TestEnvExample(t *testing.T) {
	t.Parallel()
	compose := strings.ReplaceAll(string(read(t, "docker-compose.yml")), "$$", "") // $$ escapes
	used := map[string]bool{}
	for _, m := range interpolation.FindAllStringSubmatch(compose, -1) {
		used[m[1]] = true
	}
	documented := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(read(t, ".env.example"))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		require.True(t, ok, ".env.example line %q", line)
		require.False(t, documented[k], "%s twice in .env.example", k)
		documented[k] = true
	}
	require.NoError(t, sc.Err())
	require.Equal(t, sortedKeys(used), sortedKeys(documented))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- health paths ---------------------------------------------------------------------------

// TestHealthPathsExist checks the paths the probes and health checks use against what the
// binaries serve: metrics.Handler for the scheduler, workers and notifier, the API's route
// table for the api.
func TestHealthPathsExist(t *testing.T) {
	t.Parallel()
	h := metrics.Handler(metrics.NewRegistry(), nil)
	for _, path := range []string{metrics.HealthPath, metrics.ReadyPath, metrics.MetricsPath} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
	}
	require.Equal(t, "/healthz", metrics.HealthPath)
	require.Equal(t, "/readyz", metrics.ReadyPath)

	srv, err := httpapi.New(httpapi.Params{DB: postgres.NewDB(pgtest.Pool(t)), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var routes []string
	for _, r := range srv.Routes() {
		routes = append(routes, r.Method+" "+r.Path)
	}
	require.True(t, slices.Contains(routes, "GET /healthz"), "api routes: %v", routes)
	require.True(t, slices.Contains(routes, "GET /readyz"), "api routes: %v", routes)
}
