import type { RowsPlace } from '../../core/codec/rows-codec.js';

/** Where /predict's rows are: one `features` object, or the `instances` list. */
export const FEATURES: RowsPlace = { row: () => ['features'], whole: 'features' };
export const INSTANCES: RowsPlace = { row: (i) => ['instances', i], whole: 'instances' };
