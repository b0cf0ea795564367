-- Job list cursors carry created_at as a JavaScript date (milliseconds). With microseconds stored, jobs
-- created within one millisecond compared unequal to their own cursor and fell out of the page
-- sequence. Milliseconds are what every client can represent exactly.
ALTER TABLE "jobs" ALTER COLUMN "created_at" SET DATA TYPE TIMESTAMPTZ(3);
