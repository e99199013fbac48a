"""The demo's people and courses, in one place.

`seed_demo` loads them into the quiz site and the bundled fake Analyzer seeds itself from
them, so the two systems agree on who teaches what and who is enrolled where.
"""

DEMO_PASSWORD = "quiz-demo-2026"  # noqa: S105 - printed by seed_demo, demo only

TEACHERS = [
    {"username": "anand", "email": "anand@college.edu", "first_name": "Anand", "last_name": "Rao"},
    {"username": "priya", "email": "priya@college.edu", "first_name": "Priya", "last_name": "Nair"},
]

STUDENTS = [
    {"username": "21Z201", "first_name": "Arun", "last_name": "K"},
    {"username": "21Z202", "first_name": "Bhavya", "last_name": "S"},
    {"username": "21Z203", "first_name": "Charan", "last_name": "M"},
    {"username": "21Z204", "first_name": "Divya", "last_name": "R"},
]

# course_id -> name, instructor email, enrolled roll numbers.
COURSES = [
    {
        "course_id": "19XW51",
        "name": "Compilers",
        "instructor": "anand@college.edu",
        "students": ["21Z201", "21Z202", "21Z203", "21Z204"],
    },
    {
        "course_id": "19XW52",
        "name": "Operating Systems",
        "instructor": "priya@college.edu",
        "students": ["21Z201", "21Z202", "21Z203"],
    },
]
