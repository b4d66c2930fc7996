/** Tests use the sandbox's WMS stand-in as their fake WMS. */
export { startFakeWms, type FakeWms, type RecordedNotification } from '../../src/sandbox/wms.ts';
