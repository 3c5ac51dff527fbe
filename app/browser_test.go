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
	base, _ := start(t)
	ann, bob := twoTabs(t, base)

	const text = `hello <b>bob</b> & "friends"`
	require.NoError(t, chromedp.Do(ann,
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.CSS("#form button")), // as a user does (form.submit() would skip the page's handler)
	))
	_, err := chromedp.Run(bob, chromedp.Poll[bool](`document.getElementById("log").textContent.includes("hello <b>bob</b>")`))
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

// connected is true once a page's widget is connected.
const connected = `document.getElementById("status").textContent.endsWith(" connected")`

// twoTabs opens the demo page as ann and as bob in two tabs of a headless
// Chromium, and waits until both are connected.
func twoTabs(t *testing.T, base string) (ann, bob context.Context) {
	chromium := testservers.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := context.WithTimeout(actx, 60*time.Second)
	t.Cleanup(cancel)
	ann, cancelAnn := chromedp.NewContext(ctx)
	t.Cleanup(cancelAnn)
	require.NoError(t, chromedp.Do(ann, chromedp.Navigate(base+"/demo?user=ann"))) // starts the browser
	bob, cancelBob := chromedp.NewContext(ann)                                     // a second tab of the same browser
	t.Cleanup(cancelBob)
	_, err := chromedp.Run(ann, chromedp.Poll[bool](connected))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bob, chromedp.Navigate(base+"/demo?user=bob")))
	_, err = chromedp.Run(bob, chromedp.Poll[bool](connected))
	require.NoError(t, err)
	return ann, bob
}

// The server goes away while ann types: her message waits in the
// widget's outbox, shown as queued, and is sent when the server is back
// (once, with its client id); bob sees it.
func TestBrowserOutbox(t *testing.T) {
	data := t.TempDir()
	base, stop := start(t, "-data", data)
	addr := base[len("http://"):]
	ann, bob := twoTabs(t, base)

	require.NoError(t, stop())
	_, err := chromedp.Run(ann, chromedp.Poll[bool](`!document.getElementById("status").textContent.endsWith(" connected")`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ann,
		chromedp.SendKeys(chromedp.ID("text"), "sent while the server was down"),
		chromedp.Click(chromedp.CSS("#form button")),
	))
	_, err = chromedp.Run(ann, chromedp.Poll[bool](`document.querySelector("#log .queued") !== null &&
		document.getElementById("status").textContent.includes("queued")`))
	require.NoError(t, err, "the message shows as queued, not lost")
	queued, err := chromedp.Run(ann, chromedp.Evaluate[int](`Object.keys(JSON.parse(localStorage.getItem(
		Object.keys(localStorage).find(function (k) { return k.indexOf("strata-outbox:") === 0; })) || "{}")).length`))
	require.NoError(t, err)
	require.Equal(t, 1, queued, "the outbox is kept in localStorage")

	start(t, "-data", data, "-addr", addr) // the same store, the same address
	_, err = chromedp.Run(bob, chromedp.Poll[bool](`document.getElementById("log").textContent.includes("sent while the server was down")`))
	require.NoError(t, err, "bob gets the queued message once the server is back")
	_, err = chromedp.Run(ann, chromedp.Poll[bool](`document.querySelector("#log .queued") === null`))
	require.NoError(t, err, "ann's queued row became the sent message")
	n, err := chromedp.Run(bob, chromedp.Evaluate[int](`document.getElementById("log").textContent.split("sent while the server was down").length - 1`))
	require.NoError(t, err)
	require.Equal(t, 1, n, "once")
}
