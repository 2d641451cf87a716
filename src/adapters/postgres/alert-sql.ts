/**
 * The SQL of alerts (issue 21, store-alerts.ts) for the PostgreSQL store: the alert row of a
 * message and its recipients' acknowledgements (schema.postgres.sql migration 3). Rows come back
 * in the SQLite store's shapes (../sqlite/alerts.ts), which map them.
 */
import type { QueryResultRow } from 'pg';
import { ALERT_COLUMNS, type AckRow, type AlertRow } from '../sqlite/alerts.js';
import { sql, statements } from './connection.js';

type Row<T> = T & QueryResultRow;

export const A = statements('siar.alerts', {
  insertAlert: sql<[number, string, boolean, number | null, number, number, string | null, string | null, string | null], Row<AlertRow>>(`
    INSERT INTO message_alerts (message_id, priority, ack_requested, remind_every_s, remind_max, reminders, next_remind_at, expires_at, deliver_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING ${ALERT_COLUMNS}`),
  alertsOf: sql<[number[]], Row<AlertRow>>(`SELECT ${ALERT_COLUMNS} FROM message_alerts WHERE message_id = ANY($1)`),
  acksOf: sql<[number[]], Row<AckRow>>(`SELECT message_id, recipient_id, acked_at FROM message_acks WHERE message_id = ANY($1)`),
  // The first acknowledgement wins; a second one returns nothing and reads the first.
  insertAck: sql<[number, number, string], Row<{ acked_at: string }>>(`
    INSERT INTO message_acks (message_id, recipient_id, acked_at) VALUES ($1, $2, $3)
    ON CONFLICT (message_id, recipient_id) DO NOTHING RETURNING acked_at`),
  ackOf: sql<[number, number], Row<{ acked_at: string }>>(`SELECT acked_at FROM message_acks WHERE message_id = $1 AND recipient_id = $2`),
});
