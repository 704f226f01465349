import { describe, expect, it } from 'vitest';
import { NO_ORDER_EVIDENCE, observeOrder, orderOf, type StopInput, stopAfter } from './sweep.ts';

const across = (...pages: number[][]) => pages.reduce(observeOrder, NO_ORDER_EVIDENCE);

describe('order detection', () => {
  it.each([
    ['newest first within a page', [[30, 20, 10]], 'desc'],
    ['oldest first within a page', [[10, 20, 30]], 'asc'],
    ['no parseable timestamps', [[]], 'unknown'],
    ['one action', [[10]], 'unknown'],
    ['a same-timestamp burst alone', [[10, 10, 10]], 'unknown'],
    [
      'a burst page after a newer page',
      [
        [50, 40],
        [30, 30],
      ],
      'desc',
    ],
    [
      'a burst page after an older page',
      [
        [10, 20],
        [30, 30],
      ],
      'asc',
    ],
    [
      'a burst page equal to the previous page edge',
      [
        [50, 40],
        [40, 40],
      ],
      'desc',
    ],
    [
      'pages that disagree',
      [
        [30, 20],
        [5, 9],
      ],
      'unsorted',
    ],
    ['a single-action page after a newer one', [[50, 40], [39]], 'desc'],
  ])('infers %s', (_name, pages, expected) => {
    expect(orderOf(across(...pages))).toBe(expected);
  });

  it('uses the first and last timestamps so local jitter inside a newest-first page does not flip it', () => {
    expect(orderOf(across([100, 98, 99, 97, 50]))).toBe('desc');
  });
});

describe('stop rule', () => {
  const base: StopInput = {
    page: 1,
    received: 100,
    pageSize: 100,
    maxPages: 10,
    order: 'desc',
    newestMs: 500,
    stopBeforeMs: 100,
  };

  it.each<[string, Partial<StopInput>, ReturnType<typeof stopAfter>]>([
    ['a full page of newer actions', {}, null],
    ['an empty page', { received: 0, newestMs: null }, 'end'],
    ['a short page', { received: 42 }, 'end'],
    ['a full page entirely older than the cursor, newest first', { newestMs: 99 }, 'cursor'],
    ['a page whose newest action is exactly at the cursor', { newestMs: 100 }, null],
    ['a page older than the cursor in ascending order', { newestMs: 99, order: 'asc' }, null],
    ['a page older than the cursor when the order is unknown', { newestMs: 99, order: 'unknown' }, null],
    [
      'a page older than the cursor when the order is inconsistent',
      { newestMs: 99, order: 'unsorted' },
      null,
    ],
    ['a page of only unparseable records', { newestMs: null }, null],
    ['the page limit', { page: 10 }, 'max-pages'],
    ['the page limit on a page that also reaches the cursor', { page: 10, newestMs: 1 }, 'cursor'],
    [
      'a page smaller than requested when the server reports the smaller size',
      { received: 50, pageSize: 50 },
      null,
    ],
    ['an unreadable page with no record read', { unreadable: true, received: 0, newestMs: null }, null],
    [
      'an unreadable page on the page limit',
      { unreadable: true, received: 0, newestMs: null, page: 10 },
      'max-pages',
    ],
  ])('after %s: %s', (_name, change, expected) => {
    expect(stopAfter({ ...base, ...change })).toBe(expected);
  });
});
