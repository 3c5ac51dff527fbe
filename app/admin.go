package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/repo"
)

// adminUsage lists the admin commands.
const adminUsage = `commands (after the flags):
  (none)                      serve the chat
  migrate                     apply the chat's migrations and exit
  app create NAME             create an app; prints its public key, a key id and its secret
  app keys APP                list an app's keys
  app key add APP             add a key to an app (rotate: add, move the site to it, disable the old)
  app key disable APP KEYID   refuse the tokens a key signs
  app key enable APP KEYID    accept them again`

// admin runs an admin command against the configured store.
func admin(ctx context.Context, cfg config, args []string, out io.Writer) error {
	log := slog.New(slog.DiscardHandler)
	r, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := migrateUp(ctx, r, log); err != nil {
		return err
	}
	svc := chat.New(r, chat.Options{})
	defer svc.Close()
	switch {
	case len(args) == 1 && args[0] == "migrate":
		fmt.Fprintln(out, "migrated")
		return nil
	case len(args) == 3 && args[0] == "app" && args[1] == "create":
		a, k, err := svc.CreateApp(ctx, args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "app %s (%s)\nkey %s secret %x\n", a.ID, a.Name, k.KeyID, k.Secret)
		return nil
	case len(args) == 2 && args[0] == "app" && args[1] == "keys":
		return errors.New("app keys: name the app")
	case len(args) == 3 && args[0] == "app" && args[1] == "keys":
		ks, err := svc.Keys(ctx, args[2])
		if err != nil {
			return err
		}
		for _, k := range ks {
			state := "enabled"
			if !k.Enabled {
				state = "disabled"
			}
			fmt.Fprintf(out, "key %s %s (added %s)\n", k.KeyID, state, k.InsertedAt.Format("2006-01-02 15:04"))
		}
		return nil
	case len(args) == 4 && args[0] == "app" && args[1] == "key" && args[2] == "add":
		k, err := svc.AddKey(ctx, args[3])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "key %s secret %x\n", k.KeyID, k.Secret)
		return nil
	case len(args) == 5 && args[0] == "app" && args[1] == "key" && (args[2] == "disable" || args[2] == "enable"):
		if err := svc.SetKeyEnabled(ctx, args[3], args[4], args[2] == "enable"); err != nil {
			if errors.Is(err, repo.ErrNotFound) {
				return fmt.Errorf("no key %s of app %s", args[4], args[3])
			}
			return err
		}
		fmt.Fprintf(out, "key %s %sd\n", args[4], args[2])
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args, adminUsage)
}
