package smtpsink_test

import (
	"net/smtp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
)

func TestSinkKeepsMessagesAndSurvivesOutages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sink, err := smtpsink.Start("127.0.0.1:0", dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sink.Close()) })

	send := func() error {
		return smtp.SendMail(sink.Addr(), nil, "a@example.com", []string{"b@example.com"},
			[]byte("Subject: hi\r\n\r\nbody\r\n"))
	}
	require.NoError(t, send())
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "a@example.com", msgs[0].From)
	require.Equal(t, []string{"b@example.com"}, msgs[0].To)
	require.Contains(t, string(msgs[0].Data), "Subject: hi")

	sink.SetFailing(true)
	err = send()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "451"), err.Error())
	sink.SetFailing(false)

	require.NoError(t, sink.Stop())
	require.Error(t, send(), "a stopped sink refuses connections")
	require.NoError(t, sink.Restart())
	require.NoError(t, send())
	require.Len(t, sink.Messages(), 2)
}
