/** Picks the DataProvider for a slice's `data` section (one line per product). */
import { FerryError } from '../util/errors.js';
import type { DataProvider } from './provider.js';
import { PostgresDataProvider, type PostgresDataConfig } from './postgres/provider.js';

export type DataSpec = { kind: 'postgres' } & PostgresDataConfig;

export function createDataProvider(spec: DataSpec): DataProvider {
  switch (spec.kind) {
    case 'postgres':
      return new PostgresDataProvider(spec);
    default:
      throw new FerryError('data.kind', `unknown data provider "${(spec as { kind: string }).kind}"`, { fix: 'use kind: postgres' });
  }
}

export type { DataProvider } from './provider.js';
export { PostgresDataProvider } from './postgres/provider.js';
