-- WhatsApp message ids are indexed by their WAKey (outbox.go): the message
-- id after the last "_" of "true_<jid>_<id>", or a bare id as it is, so that
-- the same message keeps one key when the page's build changes how it draws
-- its ids. A row whose key another row of its tenant holds already keeps
-- its whole id.
UPDATE messages AS m
SET wa_id = convert_to(regexp_replace(convert_from(m.wa_id, 'UTF8'), '^(true|false)_.*_', ''), 'UTF8')
WHERE convert_from(m.wa_id, 'UTF8') ~ '^(true|false)_.*_'
  AND NOT EXISTS (
    SELECT 1 FROM messages o
    WHERE o.tenant_id = m.tenant_id AND o.seq <> m.seq
      AND o.wa_id = convert_to(regexp_replace(convert_from(m.wa_id, 'UTF8'), '^(true|false)_.*_', ''), 'UTF8'));
