package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FuzzStreamJob puts arbitrary entries on a check stream of the local Redis and reads them as
// a worker does (Consumer.Read, which decodes the job): nothing panics, and every entry either
// comes back as a delivery with a website id or goes to the dead-letter stream, never both and
// never neither. Seeds: f.Add below and testdata/fuzz/FuzzStreamJob. Each fuzzing process uses
// keys of its own and deletes them at the end.
func FuzzStreamJob(f *testing.F) {
	for _, s := range [][2]string{
		{JobField, `{"website_id":"w","region":"eu","url":"https://example.com","method":"GET","timeout_ms":1000,"expected_status":"200"}`},
		{JobField, `{"website_id":""}`},
		{JobField, `{"website_id":1}`},
		{JobField, `{"website_id":"w","headers":{"X-A":"b\r\nHost: evil"},"timeout_ms":-1,"expected_status":"2xx"}`},
		{JobField, `{"website_id":"w","timeout_ms":1e400}`},
		{JobField, `null`}, {JobField, ``}, {JobField, `[]`}, {JobField, "\xff"},
		{"other", `{"website_id":"w"}`},
	} {
		f.Add(s[0], s[1])
	}
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		f.Fatal(err)
	}
	keys := Keys{Prefix: "test-fuzz-" + hex.EncodeToString(b[:])}
	f.Cleanup(func() {
		for _, k := range []string{keys.Checks("eu"), keys.DeadLetter("eu")} {
			if err := rdb.Del(ctx, k).Err(); err != nil {
				f.Error(err)
			}
		}
		if err := rdb.Close(); err != nil {
			f.Error(err)
		}
	})
	c := NewConsumer(rdb, ConsumerParams{Keys: keys, Region: "eu", Name: "fuzz", Block: 10 * time.Millisecond})
	if err := c.EnsureGroup(ctx); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, field, value string) {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.Stream(), Values: map[string]any{field: value}}).Result()
		if err != nil {
			t.Skip("redis refused the entry:", err)
		}
		defer rdb.XDel(ctx, c.Stream(), id)
		got, err := c.Read(ctx, 10)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		dead, err := rdb.XRange(ctx, keys.DeadLetter("eu"), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Del(ctx, keys.DeadLetter("eu"))
		switch {
		case len(got) == 1 && len(dead) == 0:
			if got[0].ID != id || got[0].Job.WebsiteID == "" {
				t.Fatalf("delivery %+v for entry %s", got[0], id)
			}
			if err := c.Ack(ctx, id); err != nil {
				t.Fatal(err)
			}
		case len(got) == 0 && len(dead) == 1:
			if dead[0].Values["original_id"] != id {
				t.Fatalf("dead letter %+v is not entry %s", dead[0], id)
			}
			pending, err := rdb.XPending(ctx, c.Stream(), Group).Result()
			if err != nil {
				t.Fatal(err)
			}
			if pending.Count != 0 {
				t.Fatalf("a dead-lettered entry is still pending")
			}
		default:
			t.Fatalf("entry %s (%q=%q): %d deliveries and %d dead letters", id, field, value, len(got), len(dead))
		}
	})
}

// FuzzTransitionEvent decodes arbitrary events-stream entries as the notifier does: nothing
// panics, and an entry is either a transition with a website, a region and a time, or an error
// with a zero transition.
func FuzzTransitionEvent(f *testing.F) {
	for _, s := range []string{
		`{"website_id":"w","region":"eu","from":"up","to":"down","at":"2026-01-02T03:04:05Z"}`,
		`{"website_id":"w","region":"eu"}`, `{"at":"not a time"}`, `null`, ``, `{"at":"9999-12-31T23:59:59Z","website_id":"w","region":"r"}`,
	} {
		f.Add(EventField, s)
	}
	f.Fuzz(func(t *testing.T, field, value string) {
		ev := decodeTransitionEvent(redis.XMessage{ID: "1-0", Values: map[string]any{field: value}})
		if ev.Err != nil {
			if ev.Transition.WebsiteID != "" || !ev.Transition.At.IsZero() {
				t.Fatalf("error %v with a transition %+v", ev.Err, ev.Transition)
			}
			return
		}
		if ev.Transition.WebsiteID == "" || ev.Transition.Region == "" || ev.Transition.At.IsZero() {
			t.Fatalf("accepted an incomplete transition %+v from %q", ev.Transition, value)
		}
	})
}
