import type { User } from '../ports/store.js';

/** Who asks a service for a change, and from where: what the audit log records of it. */
export interface Actor {
  user: User;
  /** The peer address of the connection the request came on. */
  address: string;
}
