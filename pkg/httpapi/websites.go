package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// createWebsite handles POST /websites. Only name and url are required; every other field has
// a default.
func (s *Server) createWebsite(c echo.Context) error {
	var in websiteInput
	present, err := decodeJSON(c, &in)
	if err != nil {
		return err
	}
	w := s.limits.defaults()
	in.apply(&w, present, s.limits.defaults())
	if err := s.validateWebsite(&w, nil); err != nil {
		return err
	}
	var out postgres.Website
	err = s.limits.withCreateSlot(c.Request().Context(), func() (err error) {
		out, err = s.websites.Create(c.Request().Context(), w)
		return err
	})
	if err != nil {
		return err
	}
	return created(c, "/websites/"+out.ID, out)
}

// listWebsites handles GET /websites?limit=&cursor=&q=.
func (s *Server) listWebsites(c echo.Context) error { return listPage(c, s.websites.List) }

// getWebsite handles GET /websites/:id.
func (s *Server) getWebsite(c echo.Context) error { return getByID(c, s.websites.Get) }

// updateWebsite handles PATCH /websites/:id: the fields sent change, null resets a field to
// its default, the others stay. The result is validated as a whole, under the row lock.
func (s *Server) updateWebsite(c echo.Context) error {
	var in websiteInput
	present, err := decodeJSON(c, &in)
	if err != nil {
		return err
	}
	out, err := s.websites.Update(c.Request().Context(), c.Param("id"), func(w *postgres.Website) error {
		before := *w
		in.apply(w, present, s.limits.defaults())
		return s.validateWebsite(w, &before)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// deleteWebsite handles DELETE /websites/:id.
func (s *Server) deleteWebsite(c echo.Context) error {
	if err := s.websites.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
