package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Messengers as channels (portal/channels.go): the admin's page and API,
// the addresses Telegram and VK call, and the page that links a chat to a
// client's account.
func (s *Server) channelRoutes(m, api *mux.Router) {
	admin := portal.RoleAdmin
	m.Handle("/admin/channels", s.user(s.channelsPage, admin)).Methods("GET")
	m.Handle("/admin/channels/{kind:telegram|vk}", s.user(s.channelSubmit, admin)).Methods("POST")
	m.Handle("/admin/channels/{kind:telegram|vk}/delete", s.user(s.channelDeleteSubmit, admin)).Methods("POST")
	m.Handle("/chat-link", s.h(s.chatLinkPage)).Methods("GET")
	m.Handle("/chat-link", s.h(s.chatLinkSubmit)).Methods("POST")
	api.Handle("/channels", s.user(s.apiChannels, admin)).Methods("GET")
	api.Handle("/channels/outbox", s.user(s.apiChatOutbox, admin)).Methods("GET")
	api.Handle("/channels/{kind:telegram|vk}", s.user(s.apiChannel, admin)).Methods("GET")
	api.Handle("/channels/{kind:telegram|vk}", s.user(s.apiSaveChannel, admin)).Methods("PUT")
	api.Handle("/channels/{kind:telegram|vk}", s.user(s.apiDeleteChannel, admin)).Methods("DELETE")
	api.Handle("/channels/telegram/hook", s.h(s.telegramHook)).Methods("POST")
	api.Handle("/channels/vk/callback", s.h(s.vkCallback)).Methods("POST")
}

// ChannelList is the portal's connected messengers.
type ChannelList struct {
	Channels []portal.Channel `json:"channels"`
}

// ChatOutList is the latest messages sent into chats.
type ChatOutList struct {
	Messages []portal.ChatOut `json:"messages"`
}

func kind(r *http.Request) string { return mux.Vars(r)["kind"] }

func (s *Server) apiChannels(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.Channels(r.Context(), rq.User)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ChannelList{Channels: list})
	return nil
}

func (s *Server) apiChannel(w http.ResponseWriter, r *http.Request, rq *Request) error {
	c, err := rq.P.Channel(r.Context(), rq.User, kind(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) apiSaveChannel(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.ChannelInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := rq.P.SaveChannel(r.Context(), rq.User, kind(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) apiDeleteChannel(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteChannel(r.Context(), rq.User, kind(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiChatOutbox(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.ChatOutbox(r.Context(), rq.User, 100)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ChatOutList{Messages: list})
	return nil
}

// hookBody reads a messenger's call, at most 1 MiB.
func hookBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(b) > 1<<20 {
		return nil, web.BadRequest("The body is too large or broken.")
	}
	return b, nil
}

var errNotTheMessenger = web.Errorf(http.StatusUnauthorized, "not_the_messenger", "This call does not come from the messenger.")

// telegramHook keeps an update Telegram posts (webhook mode); it proves
// itself with the secret token the portal set.
func (s *Server) telegramHook(w http.ResponseWriter, r *http.Request, rq *Request) error {
	body, err := hookBody(r)
	if err != nil {
		return err
	}
	if err := rq.P.ReceiveTelegram(r.Context(), r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), body); err != nil {
		if errors.Is(err, portal.ErrBadSecret) {
			return errNotTheMessenger
		}
		return err
	}
	web.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// vkCallback answers VK's Callback API: the confirmation string, or "ok".
func (s *Server) vkCallback(w http.ResponseWriter, r *http.Request, rq *Request) error {
	body, err := hookBody(r)
	if err != nil {
		return err
	}
	answer, err := rq.P.ReceiveVK(r.Context(), body)
	if err != nil {
		if errors.Is(err, portal.ErrBadSecret) {
			return errNotTheMessenger
		}
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, answer)
	return nil
}

// ChannelsData is the admin's messengers page.
type ChannelsData struct {
	Telegram, VK *portal.Channel
	Outbox       []portal.ChatOut
}

func (s *Server) renderChannels(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	list, err := rq.P.Channels(r.Context(), rq.User)
	if err != nil {
		return err
	}
	d := &ChannelsData{}
	for i := range list {
		switch list[i].Kind {
		case portal.ChannelTelegram:
			d.Telegram = &list[i]
		case portal.ChannelVK:
			d.VK = &list[i]
		}
	}
	if d.Outbox, err = rq.P.ChatOutbox(r.Context(), rq.User, 20); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_channels", "Messengers", "channels", d, fix)
}

func (s *Server) channelsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderChannels(w, r, rq, http.StatusOK, nil)
}

func (s *Server) channelSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	in := portal.ChannelInput{Token: f.Get("token"), Group: f.Get("group"), Confirmation: f.Get("confirmation")}
	if _, err := rq.P.SaveChannel(r.Context(), rq.User, kind(r), in); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderChannels(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Form.Set("kind", kind(r)) })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/channels", "The messenger is connected: clients who write there get tickets."))
}

func (s *Server) channelDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteChannel(r.Context(), rq.User, kind(r)); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/channels", "The messenger is disconnected."))
}

// chatLinkPage asks the client to confirm linking a chat to their
// account: a link in mail is not followed by a click alone (mail scanners
// open links too).
func (s *Server) chatLinkPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	pg := s.page(r, rq, "Link the chat", r.URL.Query().Get("t"))
	return s.tpl.Render(w, http.StatusOK, "chat_link", pg)
}

func (s *Server) chatLinkSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	_, err := rq.P.LinkChat(r.Context(), r.PostForm.Get("t"))
	return s.linkOutcome(w, r, rq, err, "The chat is linked to your account: our answers arrive there.")
}
