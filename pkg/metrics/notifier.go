package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Notification results: sent is delivered; failed is one attempt that failed and will be
// retried; given_up is a notification that ran out of attempts and will never be delivered.
const (
	ResultSent    = "sent"
	ResultFailed  = "failed"
	ResultGivenUp = "given_up"
)

// Channels are the notification channel label values created at zero.
var Channels = []string{"email", "webhook"}

// Notifier holds the metrics of one notifier process.
type Notifier struct {
	notifications *prometheus.CounterVec
	events        prometheus.Counter
	opened        prometheus.Counter
	resolved      prometheus.Counter
}

// NewNotifier registers the notifier metrics on reg. Every channel × result starts at zero so
// that alert rules on increase() fire on the first failure.
func NewNotifier(reg prometheus.Registerer) *Notifier {
	n := &Notifier{
		notifications: counterVec("", "notifications_total", "Notification delivery attempts, by channel (email, webhook) and result (sent, failed, given_up).", "channel", "result"),
		events:        counter("notifier", "events_total", "Transition events consumed from the events stream."),
		opened:        counter("", "incidents_opened_total", "Incidents opened."),
		resolved:      counter("", "incidents_resolved_total", "Incidents resolved."),
	}
	reg.MustRegister(n.notifications, n.events, n.opened, n.resolved)
	for _, c := range Channels {
		for _, r := range []string{ResultSent, ResultFailed, ResultGivenUp} {
			n.notifications.WithLabelValues(c, r)
		}
	}
	return n
}

// Notification counts one delivery attempt on channel with result (ResultSent, ResultFailed
// or ResultGivenUp).
func (n *Notifier) Notification(channel, result string) {
	n.notifications.WithLabelValues(channel, result).Inc()
}

// Event counts one consumed transition event.
func (n *Notifier) Event() { n.events.Inc() }

// IncidentOpened counts one opened incident.
func (n *Notifier) IncidentOpened() { n.opened.Inc() }

// IncidentResolved counts one resolved incident.
func (n *Notifier) IncidentResolved() { n.resolved.Inc() }
