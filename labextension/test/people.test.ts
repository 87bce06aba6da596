import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AccessClient,
  IAccess,
  parseAccess,
  peopleText
} from '../desktop/people';

const ACCESS = {
  owner: 'alice',
  you: { user: 'alice', role: 'owner' },
  control: ['carol'],
  people: [
    { user: 'alice', role: 'owner', since: 1, connections: 2 },
    { user: 'bob', role: 'viewer', since: 2, connections: 1 },
    { user: 'carol', role: 'control', since: 3, connections: 1 }
  ]
};

describe('parseAccess', () => {
  it('reads the answer and refuses anything else', () => {
    const access = parseAccess(ACCESS) as IAccess;
    assert.equal(access.owner, 'alice');
    assert.deepEqual(access.control, ['carol']);
    assert.deepEqual(
      access.people.map(p => [p.user, p.role]),
      [
        ['alice', 'owner'],
        ['bob', 'viewer'],
        ['carol', 'control']
      ]
    );
    assert.equal(parseAccess({ people: [] }), null);
    assert.equal(parseAccess('<html>'), null);
    // An unknown role is not a viewer's downgrade to nothing: it reads as the owner's
    // only where the server says nothing else (a server without access control).
    assert.equal(
      parseAccess({ ...ACCESS, you: { user: 'x', role: 'viewer' } })?.you.role,
      'viewer'
    );
  });
});

describe('peopleText', () => {
  it('tells the owner who else is there', () => {
    const access = parseAccess(ACCESS) as IAccess;
    assert.equal(
      peopleText(access),
      'Here: bob (watching), carol (has control)'
    );
    assert.equal(
      peopleText({ ...access, people: access.people.slice(0, 1) }),
      ''
    );
  });
  it('tells a visitor whose desktop it is and what they may do', () => {
    const access = parseAccess(ACCESS) as IAccess;
    assert.equal(
      peopleText({ ...access, you: { user: 'bob', role: 'viewer' } }),
      "alice's desktop: view only"
    );
    assert.equal(
      peopleText({ ...access, you: { user: 'carol', role: 'control' } }),
      "alice's desktop: you have control"
    );
  });
});

describe('AccessClient', () => {
  it("says when the server refuses the page's login, so the page stops asking", async () => {
    let status = 403;
    const fake = (async () =>
      new Response(JSON.stringify({ error: { message: 'no' } }), {
        status
      })) as unknown as typeof fetch;
    const client = new AccessClient('/napari-desktop/api/', 't', fake);
    assert.equal(await client.get(), null);
    assert.equal(client.refused, true);
    status = 500;
    assert.equal(await client.get(), null);
    assert.equal(client.refused, false);
  });
});
