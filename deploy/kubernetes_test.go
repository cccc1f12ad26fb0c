package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

const (
	k8sDir     = "deploy/kubernetes"
	overlayDir = "deploy/kubernetes/overlays/example"
	regionsDir = "deploy/kubernetes/overlays/example/regions"
	workerDir  = "deploy/kubernetes/worker"
)

type k8sObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`

	file string
}

type deploymentSpec struct {
	Replicas *int `json:"replicas"`
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
			SecurityContext              struct {
				RunAsNonRoot *bool  `json:"runAsNonRoot"`
				RunAsUser    *int64 `json:"runAsUser"`
			} `json:"securityContext"`
			Containers []container `json:"containers"`
		} `json:"spec"`
	} `json:"template"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `json:"configMapRef"`
		SecretRef    *struct{ Name string } `json:"secretRef"`
	} `json:"envFrom"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	StartupProbe   *probe `json:"startupProbe"`
	LivenessProbe  *probe `json:"livenessProbe"`
	ReadinessProbe *probe `json:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"` // a port name or number
	} `json:"httpGet"`
}

type scaledObjectSpec struct {
	ScaleTargetRef struct {
		Name string `json:"name"`
	} `json:"scaleTargetRef"`
	MinReplicaCount *int `json:"minReplicaCount"`
	MaxReplicaCount int  `json:"maxReplicaCount"`
	Triggers        []struct {
		Type              string            `json:"type"`
		Metadata          map[string]string `json:"metadata"`
		AuthenticationRef struct {
			Name string `json:"name"`
		} `json:"authenticationRef"`
	} `json:"triggers"`
}

type pdbSpec struct {
	MinAvailable   any `json:"minAvailable"`
	MaxUnavailable any `json:"maxUnavailable"`
	Selector       struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
}

type kustomization struct {
	APIVersion     string   `json:"apiVersion"`
	Kind           string   `json:"kind"`
	Namespace      string   `json:"namespace"`
	NameSuffix     string   `json:"nameSuffix"`
	Resources      []string `json:"resources"`
	Configurations []string `json:"configurations"`
	Labels         []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
		IncludeTemplates bool              `json:"includeTemplates"`
	} `json:"labels"`
	Patches []struct {
		Path   string `json:"path"`
		Patch  string `json:"patch"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target"`
	} `json:"patches"`
	ConfigMapGenerator []generator `json:"configMapGenerator"`
	SecretGenerator    []generator `json:"secretGenerator"`
	Images             []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

type generator struct {
	Name     string   `json:"name"`
	Literals []string `json:"literals"`
	Envs     []string `json:"envs"`
	Options  struct {
		DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
	} `json:"options"`
}

// splitDocs splits a multi-document YAML file.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// manifests parses every Kubernetes manifest under deploy/kubernetes (all YAML files but the
// kustomize files), by repository-relative path.
func manifests(t *testing.T) map[string][]k8sObject {
	t.Helper()
	out := map[string][]k8sObject{}
	err := filepath.WalkDir(filepath.Join(root, k8sDir), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		switch d.Name() {
		case "kustomization.yaml", "kustomizeconfig.yaml":
			return nil
		}
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for i, doc := range splitDocs(b) {
			var o k8sObject
			require.NoError(t, yaml.Unmarshal(doc, &o), "%s document %d", rel, i)
			require.NotEmpty(t, o.APIVersion, "%s document %d: apiVersion", rel, i)
			require.NotEmpty(t, o.Kind, "%s document %d: kind", rel, i)
			require.NotEmpty(t, o.Metadata.Name, "%s document %d: metadata.name", rel, i)
			o.file = rel
			out[rel] = append(out[rel], o)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func objectsIn(t *testing.T, dir string) []k8sObject {
	t.Helper()
	var out []k8sObject
	for path, objs := range manifests(t) {
		if filepath.Dir(path) == dir {
			out = append(out, objs...)
		}
	}
	return out
}

func loadKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	var k kustomization
	require.NoError(t, yaml.UnmarshalStrict(read(t, filepath.Join(dir, "kustomization.yaml")), &k), dir)
	return k
}

// kustomizations parses every kustomization.yaml under deploy/kubernetes, by
// repository-relative directory.
func kustomizations(t *testing.T) map[string]kustomization {
	t.Helper()
	out := map[string]kustomization{}
	err := filepath.WalkDir(filepath.Join(root, k8sDir), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "kustomization.yaml" {
			return err
		}
		dir, err := filepath.Rel(root, filepath.Dir(path))
		require.NoError(t, err)
		out[dir] = loadKustomization(t, dir)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

func spec[T any](t *testing.T, o k8sObject) T {
	t.Helper()
	var s T
	require.NoError(t, json.Unmarshal(o.Spec, &s), "%s %s in %s", o.Kind, o.Metadata.Name, o.file)
	return s
}

// readEnvFile reads KEY=VALUE lines, as kustomize's envs generators do.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(read(t, path))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: line %q", path, line)
		out[k] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// generated returns the keys and values of the overlay's ConfigMaps and Secrets, by name.
func generated(t *testing.T) map[string]map[string]string {
	t.Helper()
	k := loadKustomization(t, overlayDir)
	out := map[string]map[string]string{}
	for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
		kv := map[string]string{}
		for _, l := range g.Literals {
			key, v, ok := strings.Cut(l, "=")
			require.True(t, ok, "generator %s literal %q", g.Name, l)
			kv[key] = v
		}
		for _, e := range g.Envs {
			for key, v := range readEnvFile(t, filepath.Join(overlayDir, e)) {
				kv[key] = v
			}
		}
		require.NotEmpty(t, kv, "generator %s is empty", g.Name)
		out[g.Name] = kv
	}
	return out
}

// TestKustomizations checks that every kustomization names files that exist and that every
// manifest belongs to a kustomization, so `kubectl kustomize` renders all of it.
func TestKustomizations(t *testing.T) {
	t.Parallel()
	all := manifests(t)
	listed := map[string]bool{}
	for dir, k := range kustomizations(t) {
		for _, r := range k.Resources {
			p := filepath.Join(dir, r)
			fi, err := os.Stat(filepath.Join(root, p))
			require.NoError(t, err, "%s: resource %s", dir, r)
			if fi.IsDir() {
				_, err := os.Stat(filepath.Join(root, p, "kustomization.yaml"))
				require.NoError(t, err, "%s: resource %s is a directory without kustomization.yaml", dir, r)
			} else {
				_, ok := all[p]
				require.True(t, ok, "%s: resource %s is not a parsed manifest", dir, r)
				listed[p] = true
			}
		}
		for _, c := range k.Configurations {
			_, err := os.Stat(filepath.Join(root, dir, c))
			require.NoError(t, err, "%s: configuration %s", dir, c)
		}
		for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
			for _, e := range g.Envs {
				readEnvFile(t, filepath.Join(dir, e))
			}
		}
		for _, p := range k.Patches {
			require.True(t, p.Patch != "" || p.Path != "", "%s: empty patch", dir)
			if p.Patch != "" {
				var v any
				require.NoError(t, yaml.Unmarshal([]byte(p.Patch), &v), "%s: patch", dir)
			}
		}
	}
	for path := range all {
		require.True(t, listed[path], "%s is in no kustomization's resources", path)
	}
	require.Equal(t, "vigil", loadKustomization(t, overlayDir).Namespace)
	require.Empty(t, loadKustomization(t, k8sDir+"/base").Namespace, "the base is namespace-agnostic")
}

// deployments returns every Deployment of the base and the worker template.
func deployments(t *testing.T) []k8sObject {
	t.Helper()
	var out []k8sObject
	for _, objs := range manifests(t) {
		for _, o := range objs {
			if o.Kind == "Deployment" {
				out = append(out, o)
			}
		}
	}
	return out
}

func TestKubernetesRoles(t *testing.T) {
	t.Parallel()
	byRole := map[string]deploymentSpec{}
	for _, o := range deployments(t) {
		s := spec[deploymentSpec](t, o)
		require.Len(t, s.Template.Spec.Containers, 1, o.Metadata.Name)
		role := roleOf(s.Template.Spec.Containers[0].Command)
		require.Equal(t, "vigil-"+role, o.Metadata.Name)
		require.Equal(t, role, o.Metadata.Labels["app.kubernetes.io/component"])
		byRole[role] = s
	}
	require.Len(t, byRole, 4, "api, scheduler, worker and notifier")
	require.Equal(t, 2, *byRole["scheduler"].Replicas, "two schedulers: a leader and a standby")
	require.Nil(t, byRole["worker"].Replicas, "KEDA owns the worker replicas")
	require.Equal(t, 2, *byRole["notifier"].Replicas, "two notifiers share the events group and the outbox")
}

// TestKubernetesDeployments checks every Deployment for what a production cluster expects:
// probes on paths the binary serves and ports it listens on, resource requests, a non-root
// read-only container, and only variables its role reads.
func TestKubernetesDeployments(t *testing.T) {
	t.Parallel()
	bins := imageBinaries(t)
	gen := generated(t)
	for _, o := range deployments(t) {
		t.Run(o.Metadata.Name, func(t *testing.T) {
			s := spec[deploymentSpec](t, o)
			pod := s.Template.Spec
			for k, v := range s.Selector.MatchLabels {
				require.Equal(t, v, s.Template.Metadata.Labels[k], "the selector matches the pod template")
			}
			require.Equal(t, "vigil", s.Template.Metadata.Labels["app.kubernetes.io/part-of"], "the Prometheus scrape config keeps part-of=vigil")
			require.NotNil(t, pod.SecurityContext.RunAsNonRoot)
			require.True(t, *pod.SecurityContext.RunAsNonRoot)
			require.NotNil(t, pod.AutomountServiceAccountToken)
			require.False(t, *pod.AutomountServiceAccountToken, "Vigil never talks to the Kubernetes API")

			c := pod.Containers[0]
			role := roleOf(c.Command)
			require.True(t, bins[filepath.Base(c.Command[0])], "%s is not in the image", c.Command[0])
			repo, _, _ := splitImage(c.Image)
			require.Equal(t, vigilImage, repo)
			require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem)
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
			require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			require.Equal(t, []string{"ALL"}, c.SecurityContext.Capabilities.Drop)
			require.NotEmpty(t, c.Resources.Requests["cpu"], "cpu request")
			require.NotEmpty(t, c.Resources.Requests["memory"], "memory request")
			require.NotEmpty(t, c.Resources.Limits["memory"], "memory limit")

			// The variables the container gets: its env and every key of its envFrom sources.
			vars := map[string]string{}
			for _, e := range c.Env {
				vars[e.Name] = e.Value
			}
			for _, ef := range c.EnvFrom {
				var name string
				switch {
				case ef.ConfigMapRef != nil:
					name = ef.ConfigMapRef.Name
				case ef.SecretRef != nil:
					name = ef.SecretRef.Name
				}
				kv, ok := gen[name]
				require.True(t, ok, "envFrom %s: the example overlay generates no such ConfigMap or Secret", name)
				for k, v := range kv {
					vars[k] = v
				}
			}
			require.Contains(t, roles, role, "no config struct for role %s in pkg/config", role)
			for _, k := range requiredEnv(t, role) {
				require.Contains(t, vars, k, "%s needs %s", o.Metadata.Name, k)
			}
			reads := readsEnv(t, role)
			for k := range vars {
				require.True(t, reads[k], "%s gets %s, which %s does not read", o.Metadata.Name, k, role)
			}

			// Probes: liveness on /healthz, readiness on /readyz, on a declared port that the
			// role listens on.
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			require.Equal(t, mustAtoi(t, portOf(t, vars["VIGIL_METRICS_ADDR"])), ports["metrics"], "the metrics port is VIGIL_METRICS_ADDR")
			servedOn := "metrics"
			if role == "api" {
				servedOn = "http"
				require.Equal(t, mustAtoi(t, portOf(t, vars["API_ADDR"])), ports["http"], "the http port is API_ADDR")
			}
			for _, tc := range []struct {
				kind string
				p    *probe
				path string
			}{
				{"liveness", c.LivenessProbe, metrics.HealthPath},
				{"readiness", c.ReadinessProbe, metrics.ReadyPath},
				{"startup", c.StartupProbe, metrics.HealthPath},
			} {
				if tc.p == nil && tc.kind == "startup" {
					continue
				}
				require.NotNil(t, tc.p, "%s probe", tc.kind)
				require.NotNil(t, tc.p.HTTPGet, "%s probe", tc.kind)
				require.Equal(t, tc.path, tc.p.HTTPGet.Path, "%s probe", tc.kind)
				require.Equal(t, servedOn, tc.p.HTTPGet.Port, "%s probe port", tc.kind)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestPodDisruptionBudgets checks that each Deployment has exactly one PDB and that none
// blocks a node drain outright.
func TestPodDisruptionBudgets(t *testing.T) {
	t.Parallel()
	var pdbs []pdbSpec
	for _, objs := range manifests(t) {
		for _, o := range objs {
			if o.Kind == "PodDisruptionBudget" {
				p := spec[pdbSpec](t, o)
				require.NotNil(t, p.MaxUnavailable, "%s: maxUnavailable lets a drain proceed whatever the replica count", o.Metadata.Name)
				pdbs = append(pdbs, p)
			}
		}
	}
	for _, o := range deployments(t) {
		labels := spec[deploymentSpec](t, o).Template.Metadata.Labels
		n := 0
		for _, p := range pdbs {
			match := len(p.Selector.MatchLabels) > 0
			for k, v := range p.Selector.MatchLabels {
				match = match && labels[k] == v
			}
			if match {
				n++
			}
		}
		require.Equal(t, 1, n, "PodDisruptionBudgets selecting %s", o.Metadata.Name)
	}
}

// TestWorkerRegions checks the worker template and every region that uses it: the KEDA
// triggers read the region's stream and the vigil group, and the region reaches VIGIL_REGION.
func TestWorkerRegions(t *testing.T) {
	t.Parallel()
	gen := generated(t)
	prefix := gen["vigil-config"]["VIGIL_REDIS_PREFIX"]
	require.Equal(t, queue.Prefix, prefix, "VIGIL_REDIS_PREFIX of the example overlay")
	keys := queue.Keys{Prefix: prefix}

	// The template.
	var so scaledObjectSpec
	var auth []string
	for _, o := range objectsIn(t, workerDir) {
		if o.Kind == "ScaledObject" {
			require.Equal(t, "keda.sh/v1alpha1", o.APIVersion)
			so = spec[scaledObjectSpec](t, o)
		}
	}
	for _, o := range objectsIn(t, k8sDir+"/base") {
		if o.Kind == "TriggerAuthentication" {
			auth = append(auth, o.Metadata.Name)
		}
	}
	require.Equal(t, "vigil-worker", so.ScaleTargetRef.Name)
	require.NotNil(t, so.MinReplicaCount)
	require.GreaterOrEqual(t, *so.MinReplicaCount, 1, "a region always has a worker")
	require.Greater(t, so.MaxReplicaCount, *so.MinReplicaCount)
	require.NotEmpty(t, so.Triggers)
	for i, tr := range so.Triggers {
		require.Equal(t, "redis-streams", tr.Type, "trigger %d", i)
		require.Equal(t, queue.Group, tr.Metadata["consumerGroup"], "trigger %d", i)
		require.Equal(t, keys.Checks("change-me"), tr.Metadata["stream"], "trigger %d: the template's placeholder", i)
		require.True(t, tr.Metadata["lagCount"] != "" || tr.Metadata["pendingEntriesCount"] != "", "trigger %d scales on lag or pending entries", i)
		require.Contains(t, auth, tr.AuthenticationRef.Name, "trigger %d", i)
	}
	var template deploymentSpec
	for _, o := range objectsIn(t, workerDir) {
		if o.Kind == "Deployment" {
			template = spec[deploymentSpec](t, o)
		}
	}
	require.Equal(t, "worker", template.Template.Spec.Containers[0].Name)
	require.Equal(t, "worker", roleOf(template.Template.Spec.Containers[0].Command))
	if _, ok := roles["worker"]; ok {
		require.Contains(t, readsEnv(t, "worker"), "VIGIL_REGION")
	}

	// The regions.
	overlay := loadKustomization(t, overlayDir)
	entries, err := os.ReadDir(filepath.Join(root, regionsDir))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(entries), 2, "the example has two regions")
	for _, e := range entries {
		region := e.Name()
		t.Run(region, func(t *testing.T) {
			require.Regexp(t, `^[a-z0-9][a-z0-9-]{0,62}$`, region, "a valid region name (regions.name)")
			require.Contains(t, overlay.Resources, "regions/"+region, "the overlay deploys it")
			k := loadKustomization(t, filepath.Join(regionsDir, region))
			require.Equal(t, []string{"../../../../worker"}, k.Resources)
			require.Equal(t, "-"+region, k.NameSuffix)
			require.Len(t, k.Labels, 1)
			require.Equal(t, map[string]string{"vigil.dev/region": region}, k.Labels[0].Pairs)
			require.True(t, k.Labels[0].IncludeSelectors, "two regions' Deployments must not select each other's pods")
			require.True(t, k.Labels[0].IncludeTemplates)

			var setRegion bool
			streams := map[string]string{}
			for _, p := range k.Patches {
				if p.Target != nil && p.Target.Kind == "ScaledObject" {
					var ops []struct {
						Op    string `json:"op"`
						Path  string `json:"path"`
						Value string `json:"value"`
					}
					require.NoError(t, yaml.Unmarshal([]byte(p.Patch), &ops))
					for _, op := range ops {
						require.Equal(t, "replace", op.Op)
						streams[op.Path] = op.Value
					}
					continue
				}
				var d k8sObject
				require.NoError(t, yaml.Unmarshal([]byte(p.Patch), &d))
				require.Equal(t, "Deployment", d.Kind)
				require.Equal(t, "vigil-worker", d.Metadata.Name)
				for _, c := range spec[deploymentSpec](t, d).Template.Spec.Containers {
					require.Equal(t, "worker", c.Name, "the strategic merge patch matches the template's container by name")
					for _, e := range c.Env {
						if e.Name == "VIGIL_REGION" {
							require.Equal(t, region, e.Value)
							setRegion = true
						}
					}
				}
			}
			require.True(t, setRegion, "the region's patch sets VIGIL_REGION")
			require.Len(t, streams, len(so.Triggers), "every trigger's stream is patched")
			for i := range so.Triggers {
				require.Equal(t, keys.Checks(region), streams["/spec/triggers/"+strconv.Itoa(i)+"/metadata/stream"], "trigger %d", i)
			}
		})
	}
	for _, r := range overlay.Resources {
		if dir, ok := strings.CutPrefix(r, "regions/"); ok {
			_, err := os.Stat(filepath.Join(root, regionsDir, dir, "kustomization.yaml"))
			require.NoError(t, err, "overlay resource %s", r)
		}
	}
}

// vigilImage is the repository of Vigil's image, which every role runs.
const vigilImage = "ghcr.io/vigil-monitor/vigil"

// splitImage splits an image reference such as "ghcr.io/vigil-monitor/vigil:0.1.0" or
// "redis@sha256:..." into its repository, tag and digest.
func splitImage(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	// A colon after the last slash starts the tag; one before it belongs to a registry's port.
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// imageRefs returns the value of every "image" key in a parsed YAML document, wherever the
// kind of object puts its containers.
func imageRefs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "image" {
				out = append(out, s)
				continue
			}
			out = append(out, imageRefs(e)...)
		}
	case []any:
		for _, e := range v {
			out = append(out, imageRefs(e)...)
		}
	}
	return out
}

// requirePinned fails unless a tag (or a digest) names one image: no tag means latest, and
// latest changes under a running Deployment, so that a rescheduled pod may run another release
// than its siblings.
func requirePinned(t *testing.T, where, tag, digest string) {
	t.Helper()
	if digest != "" {
		require.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest, "%s: digest", where)
		return
	}
	require.NotEmpty(t, tag, "%s: an untagged image is :latest; pin a version", where)
	require.NotEqual(t, "latest", tag, "%s: pin a version, not latest", where)
}

// TestKubernetesImagesPinned checks that no manifest, patch or kustomization deploys :latest
// or an untagged image, and that Vigil's image has one version throughout: the manifests' tag
// is the one the example overlay sets.
func TestKubernetesImagesPinned(t *testing.T) {
	t.Parallel()
	vigilTags := map[string]bool{}
	check := func(where, ref string) {
		repo, tag, digest := splitImage(ref)
		requirePinned(t, where+": image "+ref, tag, digest)
		if repo == vigilImage {
			vigilTags[tag] = true
		}
	}
	var refs int
	for path := range manifests(t) {
		for i, doc := range splitDocs(read(t, path)) {
			var v any
			require.NoError(t, yaml.Unmarshal(doc, &v), "%s document %d", path, i)
			for _, ref := range imageRefs(v) {
				check(fmt.Sprintf("%s document %d", path, i), ref)
				refs++
			}
		}
	}
	require.Positive(t, refs, "the manifests name no image: is imageRefs looking in the right place?")

	var overlayTag string
	for dir, k := range kustomizations(t) {
		for i, p := range k.Patches {
			var v any
			require.NoError(t, yaml.Unmarshal([]byte(p.Patch), &v), "%s: patch %d", dir, i)
			for _, ref := range imageRefs(v) {
				check(fmt.Sprintf("%s: patch %d", dir, i), ref)
			}
		}
		for _, img := range k.Images {
			requirePinned(t, dir+": images entry "+img.Name, img.NewTag, img.Digest)
			if img.Name == vigilImage && dir == overlayDir {
				overlayTag = img.NewTag
			}
		}
	}

	require.Regexp(t, `^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`, overlayTag, "the example overlay pins %s to a release version", vigilImage)
	require.Equal(t, map[string]bool{overlayTag: true}, vigilTags, "every manifest runs %s:%s, the overlay's tag", vigilImage, overlayTag)
}
