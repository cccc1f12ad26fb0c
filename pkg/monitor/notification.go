package monitor

import (
	"encoding/json"
	"time"
)

// Notification kinds: what happened to the incident a notification is about.
const (
	KindDown      = "down"
	KindRecovered = "recovered"
)

// Notification channels: how a notification reaches its recipient. Each has one provider in
// pkg/notify.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Notification states, as the outbox stores them: pending until claimed, sending while a sender
// holds its lease, then sent, or given up after failing for too long (or for good).
const (
	NotificationPending = "pending"
	NotificationSending = "sending"
	NotificationSent    = "sent"
	NotificationGivenUp = "given_up"
)

// Notification is one outbox row: one message about one incident transition to one recipient
// on one channel. Payload is what the sender renders, captured when the incident changed.
type Notification struct {
	ID            string          `json:"id"`
	IncidentID    string          `json:"incident_id"`
	WebsiteID     string          `json:"website_id"`
	Kind          string          `json:"kind"`
	Channel       string          `json:"channel"`
	Recipient     string          `json:"recipient"`
	Payload       json.RawMessage `json:"payload"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error"`
	CreatedAt     time.Time       `json:"created_at"`
	SentAt        *time.Time      `json:"sent_at"`
	// Secret is a webhook's own signing secret, read when the row is claimed for sending (so a
	// retry after a rotation signs with the new one); empty for emails and for webhooks signed
	// with the default. Never marshalled, never stored in the row.
	Secret string `json:"-"`
}
