package api

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strata-go/strata/app/chat"
)

// The integrating site's backend moderates with its app's secret, without
// a user's token, under /v1/admin/conversations/CONV/:
//
//	GET    messages?before=POS     history, hidden texts included
//	POST   messages/ID/hide        hide a message
//	POST   messages/ID/unhide      show it again
//	POST   bans                    {"user","seconds"}: ban a user
//	DELETE bans/USER               lift a ban
//
// It authenticates with HTTP Basic: the user is "APP/KEY_ID" (the app's
// public key and the key's id) and the password the key's secret in hex,
// as `app create` prints them.
func (s *Server) mountAdmin() {
	g := s.echo.Group("/v1/admin/conversations/:conv", s.authenticateApp)
	g.GET("/messages", s.history)
	g.POST("/messages/:id/hide", s.hide(true))
	g.POST("/messages/:id/unhide", s.hide(false))
	g.POST("/bans", s.ban)
	g.DELETE("/bans/:user", s.unban)
}

// authenticateApp checks the request's app key and secret, and leaves a
// moderator's token of the path's conversation where the handlers of
// users' requests find theirs.
func (s *Server) authenticateApp(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		user, pass, ok := c.Request().BasicAuth()
		app, keyID, found := strings.Cut(user, "/")
		secret, err := hex.DecodeString(pass)
		if !ok || !found || err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="strata chat app"`)
			return fmt.Errorf("%w: give APP/KEY_ID and the key's secret (hex) by HTTP Basic", chat.ErrToken)
		}
		if err := s.svc.CheckSecret(c.Request().Context(), app, keyID, secret); err != nil {
			return err
		}
		tok, err := s.svc.AppModerator(app, keyID, c.Param("conv"))
		if err != nil {
			return err
		}
		c.Set(tokenKey, tok)
		return next(c)
	}
}
