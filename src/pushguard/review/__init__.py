"""Periodic reviews over analyzed logs: enrollment (and removal) provenance."""

from pushguard.review.enrollments import EnrollmentReview, Provenance, review_enrollments

__all__ = ["EnrollmentReview", "Provenance", "review_enrollments"]
