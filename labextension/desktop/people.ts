/**
 * Who is at the desktop (GET <apiUrl>access, every few seconds): the owner's page lists
 * who is watching or has control, with a button to hand control or take it back; a
 * visitor's page says whose desktop it is and whether they may only watch. The server
 * enforces the rule (server/access.py drops a viewer's input); the page follows it so
 * that a viewer's clicks and keys are not sent in the first place.
 */
import { readBody } from './start';
import type { Role } from './page-config';
import { toRole } from './page-config';
import { withXsrf } from './request';
import { apiEndpoint } from './urls';

/** How often the page asks who is there. */
export const PEOPLE_POLL_MS = 4000;

export interface IPerson {
  user: string;
  role: Role;
  connections: number;
}

export interface IAccess {
  owner: string | null;
  you: { user: string; role: Role };
  control: string[];
  people: IPerson[];
}

/** GET/PUT access's answer, or null for anything else. */
export function parseAccess(data: unknown): IAccess | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const record = data as Record<string, unknown>;
  const you = record.you as Record<string, unknown> | undefined;
  if (!you || typeof you.user !== 'string' || !Array.isArray(record.people)) {
    return null;
  }
  return {
    owner: typeof record.owner === 'string' ? record.owner : null,
    you: { user: you.user, role: toRole(you.role) },
    control: Array.isArray(record.control)
      ? record.control.filter((u): u is string => typeof u === 'string')
      : [],
    people: record.people
      .filter(
        (p): p is Record<string, unknown> =>
          typeof p === 'object' && p !== null && typeof p.user === 'string'
      )
      .map(p => ({
        user: p.user as string,
        role: toRole(p.role),
        connections: typeof p.connections === 'number' ? p.connections : 1
      }))
  };
}

/** The line a page shows: for the owner who else is there, for a visitor whose it is. */
export function peopleText(access: IAccess): string {
  const { you, owner } = access;
  if (you.role !== 'owner') {
    const whose = owner ? `${owner}'s desktop` : 'This desktop';
    return you.role === 'viewer'
      ? `${whose}: view only`
      : `${whose}: you have control`;
  }
  const others = access.people.filter(p => p.user !== you.user);
  if (others.length === 0) {
    return '';
  }
  const named = others.map(p =>
    p.role === 'viewer' ? `${p.user} (watching)` : `${p.user} (has control)`
  );
  return `Here: ${named.join(', ')}`;
}

/** A view-only link as the server lists it (its token is only in the answer to make). */
export interface IViewLink {
  id: string;
  expires: number;
  viewers: number;
  /** The link's path with its token: only when it was just made. */
  path?: string;
}

export function parseLinks(data: unknown): IViewLink[] {
  const list =
    typeof data === 'object' && data !== null
      ? (data as Record<string, unknown>).links
      : null;
  if (!Array.isArray(list)) {
    return [];
  }
  return list.map(parseLink).filter((link): link is IViewLink => link !== null);
}

export function parseLink(data: unknown): IViewLink | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const record = data as Record<string, unknown>;
  if (typeof record.id !== 'string' || typeof record.expires !== 'number') {
    return null;
  }
  return {
    id: record.id,
    expires: record.expires,
    viewers: typeof record.viewers === 'number' ? record.viewers : 0,
    path: typeof record.path === 'string' ? record.path : undefined
  };
}

/** Asks the server who is there, and hands control (the owner's page). */
export class AccessClient {
  /**
   * The server refused this page's login (401/403: logged out, or another user logged in
   * in this browser): asking again changes nothing until the page is reloaded.
   */
  refused = false;

  constructor(
    private readonly _apiUrl: string,
    private readonly _xsrfToken: string,
    private readonly _fetch: typeof fetch = (input, init) => fetch(input, init)
  ) {}

  async get(): Promise<IAccess | null> {
    return this._call({ method: 'GET' });
  }

  /** Control for exactly `users` (the owner only; others get null). */
  async hand(users: string[]): Promise<IAccess | null> {
    return this._call({
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ control: users })
    });
  }

  /** The owner's view-only links ([] for anyone else). */
  async links(): Promise<IViewLink[]> {
    const data = await this._json('links', { method: 'GET' });
    return parseLinks(data);
  }

  /** A new view-only link valid for `seconds`, with its path (once), or null. */
  async makeLink(seconds: number): Promise<IViewLink | null> {
    return parseLink(
      await this._json('links', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ expires_in: seconds })
      })
    );
  }

  /** Revoke a link: its viewers are disconnected at once. */
  async revoke(id: string): Promise<void> {
    await this._json(`links/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  private async _json(
    name: string,
    init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }
  ): Promise<unknown> {
    try {
      const response = await this._fetch(
        apiEndpoint(this._apiUrl, name),
        withXsrf(this._xsrfToken, init)
      );
      this._note(response.status);
      return response.ok ? await readBody(response) : null;
    } catch {
      return null;
    }
  }

  private async _call(
    init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }
  ): Promise<IAccess | null> {
    try {
      const response = await this._fetch(
        apiEndpoint(this._apiUrl, 'access'),
        withXsrf(this._xsrfToken, init)
      );
      this._note(response.status);
      return response.ok ? parseAccess(await readBody(response)) : null;
    } catch {
      return null; // offline: the next poll asks again
    }
  }

  private _note(status: number): void {
    this.refused = status === 401 || status === 403;
  }
}
