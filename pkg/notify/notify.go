// Package notify is how a notification reaches its recipient: one Notifier per channel, chosen
// by the channel's type from a Registry, as alertmanager's notify package does. Each provider
// sits in a package of its own (notify/email, notify/webhook) with everything it needs
// together: how it renders an Alert, how it sends it, and which of its failures are worth
// another attempt. A new channel is one such package and one line where cmd/notifier builds
// the Registry.
//
// The retry loop is written once, in the notifier's sender, around the outbox: it claims a row,
// calls the channel's Notifier and records the outcome (sent, retried with backoff, or given
// up). A provider never retries by itself.
package notify

import "context"

// Message is one notification as a channel delivers it: one alert to one recipient.
type Message struct {
	// ID is the outbox row's id, the same on every attempt, so that a receiver can fold the
	// rare duplicate of a retried delivery (an email's Message-ID, a webhook's webhook-id).
	ID string
	// Recipient is an email address or a webhook URL, as the channel reads it.
	Recipient string
	// Secret is the recipient's own signing secret, if the channel signs (webhooks); empty
	// signs with the channel's default. Never logged or quoted in an error.
	Secret string
	// Alert is what the message says.
	Alert Alert
}

// Notifier delivers one message on one channel. When it fails, retry reports whether another
// attempt may succeed (a network error, a refusal by a server that may change its mind) or
// never can (a message that cannot be rendered): the sender then gives the notification up at
// once rather than retrying it for a day.
type Notifier interface {
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

// Registry is the channels the sender delivers on, by channel type (monitor.ChannelEmail,
// monitor.ChannelWebhook).
type Registry map[string]Notifier
