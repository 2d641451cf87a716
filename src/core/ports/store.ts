/** The store port, by area in src/core/ports/store/ (index.ts: `Store`, their union). */
export * from './store/index.js';
