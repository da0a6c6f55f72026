package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/supervisor"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func linkEvent(ev supervisor.LinkEvent) *wapoolv1.LinkResponse {
	switch {
	case ev.QR != nil:
		return &wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Qr{Qr: &wapoolv1.QRCode{
			Code: ev.QR.Code, Png: ev.QR.PNG, Sequence: ev.QR.Sequence, ValidSeconds: uint32(ev.QR.ValidFor.Round(time.Second) / time.Second),
		}}}
	case ev.Pairing != nil:
		return &wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_PairingCode{PairingCode: &wapoolv1.PairingCode{
			Code: ev.Pairing.Code, Sequence: ev.Pairing.Sequence, ValidSeconds: uint32(ev.Pairing.ValidFor / time.Second),
		}}}
	default:
		l := ev.Linked
		if l == nil {
			l = &supervisor.Linked{}
		}
		return &wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Linked{Linked: &wapoolv1.Linked{Phone: l.Phone, AlreadyLinked: l.AlreadyLinked}}}
	}
}

var messageStates = map[supervisor.MessageState]wapoolv1.MessageState{
	supervisor.MessageQueued:  wapoolv1.MessageState_MESSAGE_STATE_QUEUED,
	supervisor.MessageSending: wapoolv1.MessageState_MESSAGE_STATE_SENDING,
	supervisor.MessageSent:    wapoolv1.MessageState_MESSAGE_STATE_SENT,
	supervisor.MessageFailed:  wapoolv1.MessageState_MESSAGE_STATE_FAILED,
}

func message(m supervisor.Message) *wapoolv1.Message {
	return &wapoolv1.Message{
		Id:             m.ID,
		TenantId:       m.TenantID,
		To:             m.To,
		State:          messageStates[m.State],
		WaMessageId:    m.WAMessageID,
		CreatedAt:      ts(m.CreatedAt),
		SentAt:         ts(m.SentAt),
		Error:          m.Error,
		Attempts:       uint32(m.Attempts),
		IdempotencyKey: m.IdempotencyKey,
		ErrorReason:    m.ErrorReason,
		Media:          messageMedia(m.Media),
	}
}

// event converts an event of the log. Its message is what GetMessage
// returns (message), never the text.
func event(ev supervisor.Event) *wapoolv1.Event {
	out := &wapoolv1.Event{Cursor: ev.Cursor, At: ts(ev.At), TenantId: ev.TenantID}
	switch {
	case ev.Message != nil:
		out.Kind = &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{Message: message(*ev.Message)}}
	case ev.Session != nil:
		out.Kind = &wapoolv1.Event_SessionState{SessionState: &wapoolv1.SessionStateEvent{
			From:      sessionStates[ev.Session.From],
			To:        sessionStates[ev.Session.To],
			LastError: ev.Session.LastError,
			Deleted:   ev.Session.Deleted,
			// A restore's report, not a change of state (restore.go).
			StaleRestore: staleRestore(ev.Session.StaleRestore),
		}}
	}
	return out
}

var sessionStates = map[supervisor.State]wapoolv1.SessionState{
	supervisor.StateStarting:   wapoolv1.SessionState_SESSION_STATE_STARTING,
	supervisor.StateUnlinked:   wapoolv1.SessionState_SESSION_STATE_UNLINKED,
	supervisor.StateLinking:    wapoolv1.SessionState_SESSION_STATE_LINKING,
	supervisor.StateReady:      wapoolv1.SessionState_SESSION_STATE_READY,
	supervisor.StateHibernated: wapoolv1.SessionState_SESSION_STATE_HIBERNATED,
	supervisor.StateRestarting: wapoolv1.SessionState_SESSION_STATE_RESTARTING,
	supervisor.StateFailed:     wapoolv1.SessionState_SESSION_STATE_FAILED,
}

func session(s supervisor.Session) *wapoolv1.Session {
	return &wapoolv1.Session{
		TenantId: s.TenantID,
		State:    sessionStates[s.State],
		Phone:    s.Phone,
		Linked:   s.Linked,
		Browser: &wapoolv1.Browser{
			Running:   s.Running,
			Pid:       int32(s.PID),
			StartedAt: ts(s.StartedAt),
			Restarts:  uint32(s.Restarts),
			LastExit:  s.LastExit,
		},
		LastActive:   ts(s.LastActive),
		LastError:    s.LastError,
		Queued:       uint32(s.Queued),
		ProfileBytes: s.ProfileBytes,
		Node:         s.Node,
		SnapshotAt:   ts(s.SnapshotAt),
		PageContract: s.PageContract,
		StaleRestore: staleRestore(s.StaleRestore),
	}
}
