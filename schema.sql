-- siar schema: the one source of the database layout.
-- Each "-- migration: N" section is applied once, in order, inside a transaction;
-- PRAGMA user_version records the last one applied. Never edit a released section:
-- add a new one below it.

-- migration: 1
CREATE TABLE users (
  id                   INTEGER PRIMARY KEY,
  username             TEXT NOT NULL UNIQUE,
  role                 TEXT NOT NULL CHECK (role IN ('member', 'admin')),
  status               TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  password_hash        TEXT NOT NULL,
  institution          TEXT NOT NULL DEFAULT '',
  contact              TEXT NOT NULL DEFAULT '',
  email                TEXT NOT NULL DEFAULT '',  -- lower-cased
  phone                TEXT NOT NULL DEFAULT '',
  address              TEXT NOT NULL DEFAULT '',
  must_change_password INTEGER NOT NULL DEFAULT 0,
  created_at           TEXT NOT NULL,             -- ISO 8601 UTC, as every *_at column
  last_login_at        TEXT,
  last_login_address   TEXT
);
CREATE UNIQUE INDEX users_email ON users (email) WHERE email <> '';

CREATE TABLE registration_requests (
  id           INTEGER PRIMARY KEY,
  institution  TEXT NOT NULL,
  contact      TEXT NOT NULL,
  email        TEXT NOT NULL,                      -- lower-cased
  phone        TEXT NOT NULL DEFAULT '',
  address      TEXT NOT NULL DEFAULT '',
  username     TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  reason       TEXT,                               -- why it was rejected
  from_address TEXT,                               -- network address the request came from
  created_at   TEXT NOT NULL,
  decided_at   TEXT,
  decided_by   INTEGER REFERENCES users (id),
  user_id      INTEGER REFERENCES users (id)       -- the account an approval created
);
-- Two pending requests may not ask for the same username or e-mail.
CREATE UNIQUE INDEX registration_pending_username ON registration_requests (username) WHERE status = 'pending';
CREATE UNIQUE INDEX registration_pending_email ON registration_requests (email) WHERE status = 'pending';
CREATE INDEX registration_status ON registration_requests (status, id);

CREATE TABLE sessions (
  id           INTEGER PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,               -- sha256 of the token; the token itself is never stored
  user_id      INTEGER NOT NULL REFERENCES users (id),
  address      TEXT,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  closed_at    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE messages (
  id        INTEGER PRIMARY KEY,
  sender_id INTEGER NOT NULL REFERENCES users (id),
  audience  TEXT NOT NULL CHECK (audience IN ('direct', 'list', 'all')),
  subject   TEXT NOT NULL,
  body      TEXT NOT NULL,
  sent_at   TEXT NOT NULL
);
CREATE INDEX messages_sender ON messages (sender_id, id);

-- One row per recipient: the delivered and read state the sender sees in its outbox.
CREATE TABLE message_recipients (
  message_id   INTEGER NOT NULL REFERENCES messages (id),
  recipient_id INTEGER NOT NULL REFERENCES users (id),
  delivered_at TEXT,
  read_at      TEXT,
  deleted_at   TEXT,                               -- removed from the recipient's inbox
  PRIMARY KEY (message_id, recipient_id)
) WITHOUT ROWID;
CREATE INDEX recipients_inbox ON message_recipients (recipient_id, message_id);
CREATE INDEX recipients_undelivered ON message_recipients (recipient_id) WHERE delivered_at IS NULL;

CREATE TABLE attachments (
  id           INTEGER PRIMARY KEY,
  message_id   INTEGER NOT NULL REFERENCES messages (id),
  name         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  media_type   TEXT NOT NULL,
  storage_path TEXT,                               -- relative to the data dir; NULL until the upload completes
  created_at   TEXT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE mail_queue (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL,                   -- credentials, rejection, ...
  to_address      TEXT NOT NULL,
  subject         TEXT NOT NULL,
  sealed_text     TEXT NOT NULL,                   -- AES-256-GCM with <data>/mail.key (credentials are secrets); '' once sent
  created_at      TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  sent_at         TEXT,
  last_error      TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY,
  at        TEXT NOT NULL,
  kind      TEXT NOT NULL,                         -- registration, approval, rejection, login_failed, ...
  actor_id  INTEGER REFERENCES users (id),
  subject   TEXT,                                  -- what the event is about (username, request id, ...)
  address   TEXT,
  detail    TEXT                                   -- JSON object, never secrets
);
CREATE INDEX audit_kind ON audit_events (kind, id);

-- migration: 2
-- Attachments (issue #3, docs/PROTOCOL-transfer.md). A message that declares attachments is stored
-- in state 'sending': only its sender sees it (outbox), and its recipients are kept aside in
-- pending_recipients. When its last attachment is uploaded it becomes 'sent' in one transaction:
-- the recipient rows are written then, so no inbox, unread count or popup can ever show a message
-- whose files are missing. A 'sending' message not complete by upload_deadline becomes 'expired'
-- (or 'cancelled' at its sender's request) and its files are released.
ALTER TABLE messages ADD COLUMN state TEXT NOT NULL DEFAULT 'sent'
  CHECK (state IN ('sending', 'sent', 'expired', 'cancelled'));
ALTER TABLE messages ADD COLUMN upload_deadline TEXT;     -- ISO 8601; set while 'sending'
ALTER TABLE messages ADD COLUMN pending_recipients TEXT;  -- JSON array of user ids; set while 'sending'
CREATE INDEX messages_sending ON messages (upload_deadline) WHERE state = 'sending';

-- Files are stored once per content: storage_path is attachments/<sha256[0:2]>/<sha256>, shared by
-- every attachment row with that sha256; a file no row points at any more is removed.
ALTER TABLE attachments ADD COLUMN committed_at TEXT;     -- when the upload was verified and stored
CREATE INDEX attachments_content ON attachments (sha256) WHERE storage_path IS NOT NULL;

-- migration: 3
-- Channels and groups (issue #4, docs/PROTOCOL-channels.md). A channel is a named audience members
-- subscribe to: a message to it goes to its subscribers of the instant it is stored (read inside
-- the storing transaction). A group is a set of institutions the administrator keeps, addressed as
-- to=@NAME and expanded at send time; the recipients are recorded with the message as always.
CREATE TABLE channels (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,                -- like a username: a-z first, then a-z 0-9 . _ -
  description TEXT NOT NULL DEFAULT '',
  access      TEXT NOT NULL DEFAULT 'open' CHECK (access IN ('open', 'restricted')),           -- who may subscribe
  publish     TEXT NOT NULL DEFAULT 'subscribers' CHECK (publish IN ('subscribers', 'named')), -- who may publish
  created_by  INTEGER REFERENCES users (id),
  created_at  TEXT NOT NULL,
  archived_at TEXT                                 -- archived: keeps its history, takes no new messages
);

-- Members the administrator named for a channel: 'member' may subscribe to it when restricted;
-- 'publisher' may publish under the 'named' policy. Either role lets a member into a restricted channel.
CREATE TABLE channel_roles (
  channel_id INTEGER NOT NULL REFERENCES channels (id),
  user_id    INTEGER NOT NULL REFERENCES users (id),
  role       TEXT NOT NULL CHECK (role IN ('member', 'publisher')),
  granted_at TEXT NOT NULL,
  PRIMARY KEY (channel_id, user_id, role)
) WITHOUT ROWID;
CREATE INDEX channel_roles_user ON channel_roles (user_id);

CREATE TABLE channel_subscriptions (
  channel_id    INTEGER NOT NULL REFERENCES channels (id),
  user_id       INTEGER NOT NULL REFERENCES users (id),
  subscribed_at TEXT NOT NULL,
  PRIMARY KEY (channel_id, user_id)
) WITHOUT ROWID;
CREATE INDEX channel_subscriptions_user ON channel_subscriptions (user_id);

CREATE TABLE institution_groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,                -- addressed as to=@name
  description TEXT NOT NULL DEFAULT '',
  created_by  INTEGER REFERENCES users (id),
  created_at  TEXT NOT NULL
);

CREATE TABLE group_members (
  group_id INTEGER NOT NULL REFERENCES institution_groups (id),
  user_id  INTEGER NOT NULL REFERENCES users (id),
  added_at TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (user_id);

-- How a message was addressed beyond usernames. A channel message keeps audience 'list' in the
-- column above (its CHECK predates channels); channel_id marks it, and readers see audience 'channel'.
ALTER TABLE messages ADD COLUMN channel_id INTEGER REFERENCES channels (id);
ALTER TABLE messages ADD COLUMN via TEXT;          -- '#channel' or '@group,@group'; NULL for plain addressing
CREATE INDEX messages_channel ON messages (channel_id, id) WHERE channel_id IS NOT NULL;

-- Through what each recipient got a message ('#channel', or the addressed groups it is in,
-- '@a,@b'); no row when it was named directly or reached by a broadcast. Kept apart from
-- message_recipients so it is written at SEND even while those rows wait for attachments.
CREATE TABLE message_routes (
  message_id   INTEGER NOT NULL REFERENCES messages (id),
  recipient_id INTEGER NOT NULL REFERENCES users (id),
  via          TEXT NOT NULL,
  PRIMARY KEY (message_id, recipient_id)
) WITHOUT ROWID;

-- migration: 4
-- The one-time restriction of a mailed password belongs to the session opened with it (issue 20):
-- a password the member sets from another session does not lift it. Sessions open at the upgrade
-- with a password still to be changed keep their restriction.
ALTER TABLE sessions ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET must_change_password = 1
  WHERE closed_at IS NULL AND user_id IN (SELECT id FROM users WHERE must_change_password = 1);

-- migration: 5
-- What each member's messages take on disk, for the storage quota (issue 20): subject and body
-- (UTF-8 bytes) and the declared size of attachments not let go (an expired or cancelled message's
-- files are removed). Updated in the transaction that stores the message, so exact after a crash.
CREATE TABLE storage_usage (
  user_id INTEGER PRIMARY KEY REFERENCES users (id),
  bytes   INTEGER NOT NULL
);
INSERT INTO storage_usage (user_id, bytes)
SELECT sender_id, sum(bytes) FROM (
  SELECT sender_id, octet_length(subject) + octet_length(body) AS bytes FROM messages
  UNION ALL
  SELECT m.sender_id, a.size FROM attachments a JOIN messages m ON m.id = a.message_id
  WHERE m.state IN ('sending', 'sent')
) GROUP BY sender_id;

-- migration: 6
-- Alerts (issue 21, docs/PROTOCOL.md §Alerts): one row per message sent with a priority, an
-- acknowledgement request, reminders, an expiry, a schedule, or recalled; plain messages have none.
CREATE TABLE message_alerts (
  message_id      INTEGER PRIMARY KEY REFERENCES messages (id),
  priority        TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high', 'urgent')),
  ack_requested   INTEGER NOT NULL DEFAULT 0,
  remind_every_s  INTEGER,                         -- automatic reminders every this many seconds
  remind_max      INTEGER NOT NULL DEFAULT 0,
  reminders       INTEGER NOT NULL DEFAULT 0,      -- reminders that went out (manual and automatic)
  next_remind_at  TEXT,                            -- the next automatic reminder; NULL: none due
  expires_at      TEXT,
  deliver_at      TEXT,                            -- scheduled delivery
  recalled_at     TEXT,
  recall_reason   TEXT,
  recalled_by     INTEGER REFERENCES users (id),
  replaces_id     INTEGER REFERENCES messages (id),
  replaced_by     INTEGER REFERENCES messages (id)
) WITHOUT ROWID;
CREATE INDEX message_alerts_remind ON message_alerts (next_remind_at) WHERE next_remind_at IS NOT NULL;

-- Each recipient's acknowledgement (ACK).
CREATE TABLE message_acks (
  message_id   INTEGER NOT NULL REFERENCES messages (id),
  recipient_id INTEGER NOT NULL REFERENCES users (id),
  acked_at     TEXT NOT NULL,
  PRIMARY KEY (message_id, recipient_id)
) WITHOUT ROWID;

-- migration: 7
-- Reminders (issue 21) owed to recipients that were offline when REMIND ran: pushed, marked as a
-- reminder, at their next login (unless they acknowledged, or the message was recalled or expired).
CREATE TABLE message_reminders_due (
  message_id   INTEGER NOT NULL REFERENCES messages (id),
  recipient_id INTEGER NOT NULL REFERENCES users (id),
  reminder     INTEGER NOT NULL,                   -- which reminder it is (message_alerts.reminders then)
  PRIMARY KEY (recipient_id, message_id)
) WITHOUT ROWID;

-- migration: 8
-- Due jobs (issue 21): automatic reminders and scheduled delivery, each done once per cluster.
-- A scheduled message is stored with its recipients kept aside in messages.pending_recipients (as
-- a 'sending' one's are), so no inbox, unread count, channel history or popup sees it; when
-- release_due_at comes their rows are written in one transaction and it goes out then.
-- A node claims a due job (release_due_at or next_remind_at reached) by moving that time to the end
-- of a lease and writing its own name in lease_owner, in one UPDATE … RETURNING; finishing the job
-- checks the owner. A node that dies holding a job leaves it to be claimed again when the lease ends.
ALTER TABLE message_alerts ADD COLUMN release_due_at TEXT;   -- NULL once delivered (or recalled)
ALTER TABLE message_alerts ADD COLUMN lease_owner TEXT;
ALTER TABLE message_alerts ADD COLUMN auto_reminders INTEGER NOT NULL DEFAULT 0;  -- of `reminders`, the automatic ones (≤ remind_max)
CREATE INDEX message_alerts_release ON message_alerts (release_due_at) WHERE release_due_at IS NOT NULL;

-- migration: 9
-- Expired attachments removed after a grace period (issue 21, --expired-attachment-grace): the
-- sweep marks a message's alert row swept once it has let go of its attachments' content, and each
-- such attachment removed (storage_path NULL: nothing refers to its content through it any more).
ALTER TABLE message_alerts ADD COLUMN content_swept_at TEXT;
ALTER TABLE attachments ADD COLUMN removed_at TEXT;
CREATE INDEX message_alerts_to_sweep ON message_alerts (expires_at) WHERE expires_at IS NOT NULL AND content_swept_at IS NULL;
-- Open acknowledgements (STATS): the newest messages asking for one, not recalled.
CREATE INDEX message_alerts_open_ack ON message_alerts (message_id) WHERE ack_requested = 1 AND recalled_at IS NULL;

-- migration: 10
-- A scheduled correction (SEND replaces= with at=, issue 21): the message it replaces is recalled
-- when the correction goes out, in the transaction that releases it (DueJobStore.releaseScheduled),
-- not at SEND: its recipients keep the old notice until the new one arrives. Until then the recall
-- waits here (who recalls it, and why: the correction's replaces_id names the message); NULL once
-- done, when there is none, or when the correction was recalled first (the old one then stays).
ALTER TABLE message_alerts ADD COLUMN replace_recall_by INTEGER REFERENCES users (id);
ALTER TABLE message_alerts ADD COLUMN replace_recall_reason TEXT;

-- migration: 11
-- Audience snapshots (issue 19): a message to more than AUDIENCE_SNAPSHOT_ABOVE recipients
-- (src/core/ports/store/messages.ts) commits as its message row plus this one row, not a
-- message_recipients row (and a message_routes row) per recipient: the exact recipient ids at the
-- commit, and the routes of those reached through a channel or groups. The rows are written after
-- the popups are pushed, in one batch (delivered for those pushed), and the snapshot is marked
-- materialised (its lists let go). One left unmaterialised by a process that died is materialised
-- when the store next opens; until then the store materialises it before any read of recipients.
CREATE TABLE message_audiences (
  message_id      INTEGER PRIMARY KEY REFERENCES messages (id),
  recipient_ids   TEXT,                            -- JSON array of user ids; NULL once materialised
  routes          TEXT,                            -- JSON object: via -> [user ids] ('#c': […], '@a,@b': […]); NULL if none or once materialised
  materialised_at TEXT                             -- NULL until the recipient rows are written
);
CREATE INDEX message_audiences_pending ON message_audiences (message_id) WHERE materialised_at IS NULL;
