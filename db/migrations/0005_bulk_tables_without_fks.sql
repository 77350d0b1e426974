-- The four tables a sync writes in bulk (meetings, meeting_attendees, timeline_entries,
-- timeline_changes) lose their foreign keys: each one cost a `SELECT … FOR KEY SHARE` per
-- inserted row (14 per synced event), half of PostgreSQL's CPU in a large first sync (see the
-- "Sync throughput" section of bench/RESULTS.md).
--
-- What the ON DELETE actions did is now done in code, in the same transaction as the delete:
-- db/contacts.py `delete_contact` (its timeline entries), db/meetings.py `delete_meetings`
-- (attendees, entries), db/connections.py `delete_connection` and db/users.py `delete_user`
-- (meetings keep their rows with connection / creator set to NULL), db/accounts.py
-- `delete_account` (meetings, attendees, entries, change log). Rows of these tables must
-- therefore only be deleted through those functions, never by hand-written SQL.
-- The sync inserts entries only for contacts it has locked (`FOR KEY SHARE`, once per page),
-- so a contact deleted concurrently never leaves an orphan entry behind.
ALTER TABLE meetings
    DROP CONSTRAINT meetings_account_id_fkey,
    DROP CONSTRAINT meetings_connection_id_fkey,
    DROP CONSTRAINT meetings_created_by_user_id_fkey;
ALTER TABLE meeting_attendees
    DROP CONSTRAINT meeting_attendees_meeting_id_fkey;
ALTER TABLE timeline_entries
    DROP CONSTRAINT timeline_entries_account_id_fkey,
    DROP CONSTRAINT timeline_entries_contact_id_fkey,
    DROP CONSTRAINT timeline_entries_meeting_id_fkey;
ALTER TABLE timeline_changes
    DROP CONSTRAINT timeline_changes_account_id_fkey;
