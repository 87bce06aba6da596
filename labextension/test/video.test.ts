import assert from 'node:assert/strict';
import { test } from 'node:test';

import { pendingPicture, wantsVideo, withVideo } from '../desktop/video';

test('the page asks for H.264 only where it is offered, decodable and not failed', () => {
  assert.equal(wantsVideo(true, false, true), true);
  assert.equal(wantsVideo(false, false, true), false);
  assert.equal(wantsVideo(true, true, true), false);
  assert.equal(wantsVideo(true, false, false), false);
});

test('the video query joins the URL whether it has a query or not', () => {
  assert.equal(withVideo('ws://h/x'), 'ws://h/x?video=h264');
  assert.equal(withVideo('ws://h/x?token=a'), 'ws://h/x?token=a&video=h264');
});

test('a decoded picture at the head of the render queue is pending until ready', () => {
  assert.equal(pendingPicture(undefined), false);
  assert.equal(pendingPicture([]), false);
  assert.equal(pendingPicture([{ type: 'blit' }]), false);
  assert.equal(
    pendingPicture([{ type: 'frame', frame: { ready: false } }]),
    true
  );
  assert.equal(
    pendingPicture([{ type: 'frame', frame: { ready: true } }]),
    false
  );
});
