// Package deploy holds no code: its tests parse docker-compose.yml, the Dockerfile, the
// Kubernetes manifests and the Prometheus files, and check their wiring against the code (the
// variables each role's config reads, the health paths, the binaries, the Redis stream names
// and the metric names). No Docker engine or cluster runs here, so this is what keeps the
// deployment files runnable as they are.
package deploy
