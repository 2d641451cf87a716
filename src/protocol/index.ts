export * from './errors.js';
export * from './fields.js';
export * from './frames.js';
export * from './line-reader.js';
export * from './records.js';
export * from './channel-records.js';
export * from './stats-records.js';
export * from './terminal-text.js';
