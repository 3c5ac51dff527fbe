// Package web serves the chat's browser side: the widget (/widget.js,
// which embeds a conversation in any page with a script tag and a token)
// and the demo page (/demo), where anyone can pick a name and chat in one
// conversation of a demo app with tokens the server signs itself. The
// demo is for trying the app out: a real site's backend signs its users'
// tokens, and the app then serves no token endpoint (-demo=false).
//
// The browser code is plain JavaScript with no build step; the demo page
// is a Progressive Web App (a manifest, and a service worker that keeps
// the page's shell for when the network is gone).
package web

import (
	"context"
	"embed"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/strata-go/strata/app/chat"
)

//go:embed static
var static embed.FS

// The demo app and conversation.
const (
	AppID        = "pk_demo"
	Conversation = "lobby"
	tokenLife    = 12 * time.Hour
)

// MountWidget serves the widget at /widget.js, and at /v1/nodes the
// public URLs of the chat's nodes that it chooses among when its page
// names none (an empty list: the node it loaded from).
func MountWidget(e *echo.Echo, nodes []string) {
	e.GET("/widget.js", file("static/widget.js", "text/javascript; charset=utf-8"))
	list := append([]string{}, nodes...)
	e.GET("/v1/nodes", func(c echo.Context) error {
		c.Response().Header().Set("Access-Control-Allow-Origin", "*") // the widget runs on other sites' pages
		return c.JSON(http.StatusOK, map[string][]string{"nodes": list})
	})
}

// file serves an embedded file.
func file(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := static.ReadFile(name)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, contentType, b)
	}
}

// Mount adds the demo page (/demo, with its script, manifest and service
// worker) and its token endpoint (/demo/token?user=NAME) to e, creating
// the demo app if needed.
func Mount(ctx context.Context, e *echo.Echo, svc *chat.Service) error {
	_, key, err := svc.EnsureApp(ctx, AppID, "Demo")
	if err != nil {
		return err
	}
	e.GET("/demo", func(c echo.Context) error {
		b, err := static.ReadFile("static/index.html")
		if err != nil {
			return err
		}
		c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' http: https: ws: wss:; style-src 'self' 'unsafe-inline'")
		return c.HTMLBlob(http.StatusOK, b)
	})
	e.GET("/demo/page.js", file("static/page.js", "text/javascript; charset=utf-8"))
	e.GET("/demo/sw.js", file("static/sw.js", "text/javascript; charset=utf-8"))
	e.GET("/demo/manifest.webmanifest", file("static/manifest.webmanifest", "application/manifest+json"))
	e.GET("/demo/token", func(c echo.Context) error {
		user := c.QueryParam("user")
		if !validName(user) {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": "user: 1–32 letters, digits, - or _"})
		}
		now := time.Now()
		raw, err := chat.SignToken(&chat.Token{App: AppID, KeyID: key.KeyID, User: user, Name: user,
			Conversation: Conversation, Role: chat.RoleMember, Expires: now.Add(tokenLife)}, key.Secret, now)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"token": raw})
	})
	return nil
}

func validName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
