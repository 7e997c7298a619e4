-- A ticket's conversation document holds its questionnaire answers too
-- (a serial number, a phone, any custom field), so search finds them.
DELETE FROM search WHERE rowid IN (SELECT id * 2 FROM tickets);
INSERT INTO search (rowid, body) SELECT t.id * 2, t.subject || ' ' || t.description ||
    COALESCE(' ' || (SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = t.id AND kind = 'message'), '') ||
    COALESCE(' ' || (SELECT group_concat(value, ' ') FROM ticket_values WHERE ticket_id = t.id), '')
    FROM tickets t;
