/**
 * The command lines (`npm run train`, `npm run export`, `npm run bench`) parse their flags
 * with node:util's parseArgs (strict: an unknown flag or a missing value is an error; `--x v`
 * and `--x=v` both work). These helpers turn a flag's text into a checked value, with one
 * style of message: `--format int8: use fp32, fp16, int4`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { rangeText, withinBounds } from '../training/settings';
import type { NumericBounds } from '../training/settingsSchema';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** parseArgs, strict, with its message cut to the first sentence. */
export function parseFlags<const O extends FlagOptions>(
  argv: readonly string[],
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (error) {
    // (Node adds how to pass a positional that starts with '-': not what went wrong here.)
    throw new Error((error as Error).message.replace(/\. To specify a positional.*$/s, '.'));
  }
}

/** A number within `bounds` (any finite number when none are given). */
export function numberFlag(flag: string, text: string, bounds?: NumericBounds): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (bounds ? !withinBounds(value, bounds) : !Number.isFinite(value))
    throw new Error(`--${flag} ${text}: use ${bounds ? rangeText(bounds) : 'a number'}`);
  return value;
}

/** One of `choices`. */
export function choiceFlag<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text))
    throw new Error(`--${flag} ${text}: use ${choices.join(', ')}`);
  return text as T;
}

/** A comma-separated list of one or more items, each checked by `item`. */
export function listFlag<T>(flag: string, text: string, item: (part: string) => T): T[] {
  const parts = text.split(',').filter(Boolean);
  if (parts.length === 0) throw new Error(`--${flag} ${text}: use a comma-separated list`);
  return parts.map(item);
}
