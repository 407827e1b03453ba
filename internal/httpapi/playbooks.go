package httpapi

func (s *Server) playbookRoutes() {}
