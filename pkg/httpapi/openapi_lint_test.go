package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestOpenAPILint lints openapi.yaml inside go test: kin-openapi's validation (structure, $refs,
// unique operationIds, path parameters, examples against their schemas), plus the rules of
// Redocly's recommended set that kin-openapi does not apply.
func TestOpenAPILint(t *testing.T) {
	t.Parallel()
	s, err := spec()
	require.NoError(t, err, "openapi.yaml does not load (an unresolved $ref, or not YAML)")
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(openAPIDoc, &root))

	rules := []struct {
		name  string
		check func(*openapi3.T, *yaml.Node) []string
	}{
		{"kin-openapi validates it", validates},
		{"a flow mapping key has a value", flowKeysHaveValues},
		{"nullable has a type beside it", nullableHasType},
		{"every operation declares a success", operationsDeclareSuccess},
		{"every API operation declares a client error", apiOperationsDeclareClientError},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, r.check(s.doc, &root))
		})
	}
}

// validates is kin-openapi's own validation, examples included.
func validates(doc *openapi3.T, _ *yaml.Node) []string {
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// flowKeysHaveValues finds keys with no value in flow mappings: in {description: a, b} an
// unquoted comma cuts the description short and makes "b" a key of its own, which a loose
// parser keeps as an unknown field.
func flowKeysHaveValues(_ *openapi3.T, root *yaml.Node) []string {
	var problems []string
	walkYAML(root, func(n *yaml.Node) {
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle == 0 {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Tag == "!!null" && v.Value == "" {
				problems = append(problems, fmt.Sprintf("line %d: key %q has no value; quote the scalar before it if it holds a comma", k.Line, k.Value))
			}
		}
	})
	return problems
}

// nullableHasType finds schemas that say nullable without a type, which OpenAPI 3.0 ignores.
func nullableHasType(_ *openapi3.T, root *yaml.Node) []string {
	var problems []string
	walkYAML(root, func(n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		keys := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = n.Content[i+1]
		}
		if v, ok := keys["nullable"]; ok && v.Kind == yaml.ScalarNode && keys["type"] == nil {
			problems = append(problems, fmt.Sprintf("line %d: nullable without a type", v.Line))
		}
	})
	return problems
}

// operationsDeclareSuccess requires a 2xx, or a 3xx for the routes that redirect.
func operationsDeclareSuccess(doc *openapi3.T, _ *yaml.Node) []string {
	return eachOperation(doc, func(op *openapi3.Operation) bool {
		return hasStatus(op, 200, 399)
	}, "declares no 2xx or 3xx answer")
}

// apiOperationsDeclareClientError requires a 4xx on every operation that takes input (a
// parameter, a body or a key). The dashboard's pages (tag pages) refuse by redirecting to the
// login form, and health and the description take nothing to get wrong.
func apiOperationsDeclareClientError(doc *openapi3.T, _ *yaml.Node) []string {
	return eachOperation(doc, func(op *openapi3.Operation) bool {
		takesInput := len(op.Parameters) > 0 || op.RequestBody != nil || op.Security == nil || len(*op.Security) > 0
		return slices.Contains(op.Tags, "pages") || !takesInput || hasStatus(op, 400, 499)
	}, "takes input but declares no 4xx answer")
}

func eachOperation(doc *openapi3.T, ok func(*openapi3.Operation) bool, problem string) []string {
	var problems []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !ok(op) {
				problems = append(problems, method+" "+path+": "+problem)
			}
		}
	}
	slices.Sort(problems)
	return problems
}

func hasStatus(op *openapi3.Operation, low, high int) bool {
	for code := range op.Responses.Map() {
		if n, err := strconv.Atoi(code); err == nil && n >= low && n <= high {
			return true
		}
	}
	return false
}

func walkYAML(n *yaml.Node, visit func(*yaml.Node)) {
	visit(n)
	for _, c := range n.Content {
		walkYAML(c, visit)
	}
}
