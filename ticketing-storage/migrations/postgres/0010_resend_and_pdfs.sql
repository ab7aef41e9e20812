-- Whether ticket emails attach each ticket's PDF (an event setting; yes for existing events).
ALTER TABLE events ADD COLUMN email_pdfs BOOLEAN NOT NULL DEFAULT TRUE;

-- "Send me my tickets again": a holder's tickets found by address within an event.
CREATE INDEX tickets_by_holder_email ON tickets (event_id, lower(holder_email)) WHERE holder_email IS NOT NULL;
