package main

import (
	"context"
	"errors"
	"time"
)

// role is how a section runs one of Vigil's binaries.
type role struct {
	name, bin string
	stores    *sectionStores
	env       []string // beyond the stores'
	// addrVar takes a fresh loopback address: VIGIL_METRICS_ADDR, or API_ADDR for the api.
	addrVar string
	// ready is the path on that address that answers 200 once the role is ready, within the
	// time given; without one, startRole does not wait.
	ready  string
	within time.Duration
	onLine func(string) // sees each line of the role's stderr, if set
}

// startRole starts a role and waits until it is ready; one that does not get ready is stopped.
// It returns the process and the address the role serves on.
func (b *bench) startRole(ctx context.Context, r role) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	env := append(r.stores.env(b.o), r.addrVar+"="+addr)
	p, err := startProc(r.name, r.bin, nil, append(env, r.env...), b.logDir, r.onLine)
	if err != nil {
		return nil, "", err
	}
	if r.ready == "" {
		return p, addr, nil
	}
	if err := waitHTTP(ctx, p, "http://"+addr+r.ready, r.within); err != nil {
		return nil, "", errors.Join(err, p.stop(10*time.Second))
	}
	return p, addr, nil
}
