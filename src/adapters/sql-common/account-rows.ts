/**
 * Accounts (src/core/ports/store/accounts.ts) as both SQL stores read them: the rows of users,
 * registration_requests and sessions (snake_case, ISO 8601 strings, flags as SQLite's 0/1;
 * postgres/sql.ts turns PostgreSQL's booleans into those) and their mapping to records.
 */
import type {
  RegistrationRequest,
  RegistrationStatus,
  Role,
  Session,
  User,
  UserStatus,
} from '../../core/ports/store.js';

export interface UserRow {
  id: number;
  username: string;
  role: Role;
  status: UserStatus;
  password_hash: string;
  institution: string;
  contact: string;
  email: string;
  phone: string;
  address: string;
  must_change_password: number;
  created_at: string;
  last_login_at: string | null;
  last_login_address: string | null;
}

export interface RegistrationRow {
  id: number;
  institution: string;
  contact: string;
  email: string;
  phone: string;
  address: string;
  username: string;
  status: RegistrationStatus;
  reason: string | null;
  from_address: string | null;
  created_at: string;
  decided_at: string | null;
  decided_by: number | null;
  user_id: number | null;
}

export interface SessionRow {
  id: number;
  token_hash: string;
  user_id: number;
  address: string | null;
  created_at: string;
  expires_at: string;
  closed_at: string | null;
  must_change_password: number;
}

export function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    role: r.role,
    status: r.status,
    passwordHash: r.password_hash,
    institution: r.institution,
    contact: r.contact,
    email: r.email,
    phone: r.phone,
    address: r.address,
    mustChangePassword: r.must_change_password !== 0,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
    lastLoginAddress: r.last_login_address,
  };
}

export function toRegistration(r: RegistrationRow): RegistrationRequest {
  return {
    id: r.id,
    institution: r.institution,
    contact: r.contact,
    email: r.email,
    phone: r.phone,
    address: r.address,
    username: r.username,
    fromAddress: r.from_address,
    status: r.status,
    reason: r.reason,
    createdAt: r.created_at,
    decidedAt: r.decided_at,
    userId: r.user_id,
  };
}

export function toSession(r: SessionRow): Session {
  return {
    id: r.id,
    userId: r.user_id,
    address: r.address,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    closedAt: r.closed_at,
    mustChangePassword: r.must_change_password !== 0,
  };
}
