package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A small sweep on the default SQLite store: every send is acknowledged
// and delivered to each other member once, and the table says so.
func TestSweep(t *testing.T) {
	cfg, err := parseFlags([]string{"-clients", "24", "-convs", "4", "-rates", "60,120", "-duration", "1s", "-drain", "3s"}, &bytes.Buffer{})
	require.NoError(t, err)
	var out bytes.Buffer
	results, err := sweep(t.Context(), cfg, &out)
	require.NoError(t, err, out.String())
	require.Len(t, results, 2)
	for _, r := range results {
		require.Positive(t, r.Sent)
		require.Equal(t, r.Sent, r.Acked)
		require.Equal(t, r.Acked*5, r.Expected, "each send is due to the 5 other members")
		require.Equal(t, r.Expected, r.Delivered)
		require.Equal(t, r.Acked, r.Echoes, "each send comes back to its sender")
		require.Zero(t, r.Duplicates)
		require.Positive(t, r.P50)
		require.Less(t, r.P50, time.Second)
	}
	require.Contains(t, out.String(), "| sqlite | 1 | 24 | 60 |")
	require.Contains(t, out.String(), "highest rate within")
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rates", "100,x"},
		{"-rates", "-5"},
		{"-clients", "1"},
		{"-clients", "10", "-convs", "6"},
		{"-nodes", "2"}, // without a bus
		{"-duration", "0s"},
	} {
		_, err := parseFlags(args, &bytes.Buffer{})
		require.Error(t, err, "%q", args)
	}
}

func TestText(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	step, sched, sender, ok := parseText(text(7, at, 42))
	require.True(t, ok)
	require.Equal(t, int64(7), step)
	require.Equal(t, at.UnixNano(), sched)
	require.Equal(t, 42, sender)
	for _, bad := range []string{"", "hello", "s1 t=2", "s1 t=x u=3", "x1 t=2 u=3", "s1 t=2 u=3 extra"} {
		_, _, _, ok := parseText(bad)
		require.False(t, ok, "%q", bad)
	}
}
