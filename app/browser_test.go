package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
)

// Two users on the demo page, in two tabs of a real (headless) Chromium:
// what one sends appears in the other's page, as text.
func TestBrowser(t *testing.T) {
	chromium := testservers.Chromium(t)
	base, _ := start(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := context.WithTimeout(actx, 60*time.Second)
	defer cancel()
	ann, cancelAnn := chromedp.NewContext(ctx)
	defer cancelAnn()
	connected := `document.getElementById("status").textContent.endsWith(" connected")`
	require.NoError(t, chromedp.Do(ann, chromedp.Navigate(base+"/demo?user=ann"))) // starts the browser
	bob, cancelBob := chromedp.NewContext(ann)                                     // a second tab of the same browser
	defer cancelBob()
	_, err := chromedp.Run(ann, chromedp.Poll[bool](connected))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bob, chromedp.Navigate(base+"/demo?user=bob")))
	_, err = chromedp.Run(bob, chromedp.Poll[bool](connected))
	require.NoError(t, err)

	const text = `hello <b>bob</b> & "friends"`
	require.NoError(t, chromedp.Do(ann,
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.CSS("#form button")), // as a user does (form.submit() would skip the page's handler)
	))
	_, err = chromedp.Run(bob, chromedp.Poll[bool](`document.getElementById("log").textContent.includes("hello <b>bob</b>")`))
	require.NoError(t, err)
	got, err := chromedp.Run(bob, chromedp.Text(chromedp.ID("log")))
	require.NoError(t, err)
	require.Contains(t, got, "ann"+text, "the message, with its sender, rendered as text")
	bolds, err := chromedp.Run(bob, chromedp.Evaluate[int](`document.querySelectorAll("#log b").length`))
	require.NoError(t, err)
	require.Zero(t, bolds, "no HTML from a message made it into the page")
	// Presence shows both.
	_, err = chromedp.Run(bob, chromedp.Poll[bool](`document.getElementById("online").textContent.includes("ann") && document.getElementById("online").textContent.includes("bob")`))
	require.NoError(t, err)
}
