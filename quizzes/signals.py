"""The seams through which quizzes tells other apps about attempts, without importing them.

`quizzes` depends on no other app of the site; an app that builds on it (academic_integration:
the tutorial marks and their delivery) connects receivers in its AppConfig.ready. Each signal
is sent *inside* the transaction that changes the attempts, so a receiver's writes commit or
roll back with them, and a receiver may query and lock rows. Receivers run in the request:
they must be quick, must not call out over the network (schedule that with
`transaction.on_commit`), and must not raise for reasons of their own (an Analyzer that is
down, a mark that cannot be delivered): a raise rolls back the student's submission. With no
receiver connected, quizzes works alone: attempts are scored and kept, no mark is recorded.
"""

from django.dispatch import Signal

#: Sent by `attempt_submit` when an attempt has just been scored and completed, before the
#: attempt row is saved. kwargs: ``attempt`` (a QuizAttempt with ``quiz``, ``student``,
#: ``completed_at`` and ``score`` set; ``quiz.created_by`` loaded) and ``session_email`` (the
#: signed-in staff email of the session, or None). A receiver may set
#: ``attempt.mark_version``: it is saved with the attempt. Return values are ignored.
attempt_completed = Signal()

#: Sent by `quiz_regrade` after the completed attempts of ``quiz`` got their new scores.
#: kwargs: ``quiz`` and ``attempts``, a list of (attempt id, student id) for every completed
#: attempt rescored. A receiver returns how many marks it recomputed (an int, or None for
#: none); `RegradeResult.marks_recomputed` is their sum.
attempts_regraded = Signal()

#: Sent by `attempts_submit_overdue` after it completed many attempts at once (their time
#: was up), after they were saved. kwargs: ``attempts``, a list of QuizAttempt with ``quiz``
#: loaded and ``completed_at`` and ``score`` set. A receiver must not query per attempt (one
#: batch may hold hundreds); it writes each attempt's ``mark_version`` itself. Returns how
#: many marks it recorded (an int, or None for none).
attempts_completed = Signal()
