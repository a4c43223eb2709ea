import { describe, expect, it } from 'vitest';
import { classNameFor, IMAGENET_CLASSES } from '../src/inference/imagenetClasses';

describe('IMAGENET_CLASSES', () => {
  it('has 1000 names', () => {
    expect(IMAGENET_CLASSES.length).toBe(1000);
  });

  it('has the well-known classes at their standard indices', () => {
    // Checked against pytorch/hub's imagenet_classes.txt, the list the file is taken from
    // (134, 264 and 639 carry the disambiguated names the file's header describes).
    const known: [number, string][] = [
      [0, 'tench'],
      [1, 'goldfish'],
      [134, 'crane bird'],
      [207, 'golden retriever'],
      [263, 'Pembroke'],
      [264, 'Cardigan Welsh corgi'],
      [281, 'tabby'],
      [285, 'Egyptian cat'],
      [409, 'analog clock'],
      [474, 'cardigan'],
      [517, 'crane'],
      [638, 'maillot'],
      [639, 'maillot tank suit'],
      [954, 'banana'],
      [999, 'toilet tissue'],
    ];
    for (const [index, name] of known)
      expect([index, IMAGENET_CLASSES[index]]).toEqual([index, name]);
  });

  it('has no empty, padded, underscored or duplicate names', () => {
    for (const name of IMAGENET_CLASSES) {
      expect(name.length).toBeGreaterThan(0);
      expect(name).toBe(name.trim());
      expect(name).not.toMatch(/_|\s{2}|^\d+,/);
    }
    const lower = IMAGENET_CLASSES.map((n) => n.toLowerCase());
    expect(new Set(lower).size).toBe(1000);
  });

  it('cannot be modified', () => {
    expect(Object.isFrozen(IMAGENET_CLASSES)).toBe(true);
  });
});

describe('classNameFor', () => {
  it('names ImageNet-1k classes for a 1000-way head', () => {
    expect(classNameFor(207, 1000)).toBe('golden retriever');
    expect(classNameFor(0, 1000)).toBe('tench');
  });

  it('falls back to "class N" for other heads and out-of-range indices', () => {
    expect(classNameFor(207, 10)).toBe('class 207');
    expect(classNameFor(3, 10)).toBe('class 3');
    expect(classNameFor(1000, 1000)).toBe('class 1000');
    expect(classNameFor(-1, 1000)).toBe('class -1');
    expect(classNameFor(1.5, 1000)).toBe('class 1.5');
  });
});
